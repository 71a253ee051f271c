"""Build of mailtop's one C extension (everything else is in pyproject.toml).

``mailtop.logs._linescan`` makes ``mailtop report`` about 1.3x faster on a real log; it is optional:
where it cannot be compiled (no C compiler or Python headers), mailtop installs and runs without it
(``mailtop.logs.fast`` then uses the same regular expression in Python, with the same answers).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("mailtop.logs._linescan", ["mailtop/logs/_linescan.c"], optional=True)])
