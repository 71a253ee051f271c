"""Mail logs: follow -> parse -> flows/stats; trace; ``mailtop report`` and ``mailtop trace``.

No Textual here, and nothing heavy at import time. The pieces (each module's docstring has details):

* ``follow.MailLogFollower(paths)``: follows files by byte offset across rotation (rename, copy-truncate,
  delete/re-create, not-yet-existing) and yields *batches* of parsed ``LogEvent``\\ s;
  ``follow.JournalFollower`` reads ``journalctl -o json``; ``follow.read_lines(path)`` reads whole files
  (``.gz`` too) for history.
* ``parse.LineParser().parse(line) -> LogEvent`` (a NamedTuple; ``kind`` is one of the constants in
  ``parse``: ``DELIVERY``, ``REJECT``, ``LOGIN_FAILED``, ...). Never raises; bad lines are ``UNPARSED``.
* ``flows.FlowTracker``: queue-ID lifecycle (client, message-id, sender, size, each delivery), bounded.
* ``stats.LogStats``: totals (pflogsumm-equal), ``counts(window)``, ``delays(window, by="relay"|"domain")``
  (p50/p90/p99/max of final deliveries), ``top_reasons``, ``auth_failures``/``logins`` by client, top
  senders/recipients/domains, ``recent_flows``. ``stats.window_health`` and ``stats.log_findings`` give the
  health checks the defer/bounce rates and auth-failure bursts of the last window.
* ``trace.trace(query, lines)``: every line of the messages matching a queue ID, ``<message-id>``,
  address or ``@domain``.
* ``fast.summarize_fast(paths)``: ``mailtop report``'s path over whole files, several times faster than
  parse + add and tested to give the same report; no message history (the dashboard keeps the above).

From a dashboard worker thread (Textual: ``@work(thread=True, exclusive=True, group="logs")``)::

    from mailtop.logs.follow import MailLogFollower
    from mailtop.logs.stats import LogStats

    stats = LogStats(clock=time.time, max_keys=50_000)     # windows relative to the wall clock
    follower = MailLogFollower(cfg.logs.files, from_start=False)
    for batch in follower.batches(stop_event, poll_interval=cfg.refresh.log):
        stats.add_all(batch)                               # holds stats.lock while adding
        app.call_from_thread(log_panel.append_events, batch)   # LogEvent.line is text, never markup
        if worker.is_cancelled: break
    follower.close()

    # on the UI thread, any time (queries take stats.lock):
    stats.counts(300.0); stats.delays(3600.0, by="relay"); stats.top_reasons("deferred", 3600.0)

``follower.errors()`` lists files that cannot be read; ``stats.unreadable_finding(path, error)`` turns
one into a ``Finding`` with the fix (group ``adm`` or root). For the Delays panel, ``stats.delays(window,
by=...)`` returns ``{relay_or_domain: DelayStats}``. History before the dashboard started: feed
``read_lines(path)`` batches (through one ``LineParser``) into the same ``LogStats`` first.
"""
