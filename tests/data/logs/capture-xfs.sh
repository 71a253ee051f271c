#!/bin/sh
# Capture real Postfix lines with 13-14 character short queue IDs and with long queue IDs (see README.md).
# Short IDs are 5 hex digits of microseconds + the queue file's inode number in hex: on XFS (and other
# file systems with large inode numbers) they are longer than the 10-12 characters of a small ext4.
# Setup, as root: the lab's queue directory on a sparse 8 TiB XFS image with 1023 GiB allocation
# groups (inode numbers there encode the group: 0x80000081, 0x400000081, ...):
#   truncate -s 8T /tmp/logfix-xfs.img && mkfs.xfs -q -d agsize=1023g /tmp/logfix-xfs.img
#   mkdir -p /work/main/.lab-logfix/spool && mount -o loop /tmp/logfix-xfs.img /work/main/.lab-logfix/spool
#   ip netns exec mt-logfix env MAILTOP_LAB_DIR=/work/main/.lab-logfix services/lab up
# Capture (from the repo root):
#   ip netns exec mt-logfix env MAILTOP_LAB_DIR=/work/main/.lab-logfix tests/data/logs/capture-xfs.sh
# Then: umount /work/main/.lab-logfix/spool (after `services/lab down`) and rm /tmp/logfix-xfs.img.
set -eu
LAB=${MAILTOP_LAB_DIR:-.lab}
LOG=$LAB/log/postfix.log
start=$(($(stat -c %s "$LOG") + 1))
# 1. short IDs of 13+ characters (the queue file inodes on XFS)
services/lab traffic 30 --seed 13
sleep 2
# 2. long queue IDs (enable_long_queue_ids = yes), then back to the lab's default
/usr/sbin/postconf -c "$LAB/postfix" -e enable_long_queue_ids=yes
/usr/sbin/postfix -c "$LAB/postfix" reload
sleep 2
services/lab traffic 30 --seed 14
/usr/sbin/postqueue -c "$LAB/postfix" -f
sleep 3
/usr/sbin/postconf -c "$LAB/postfix" -e enable_long_queue_ids=no
/usr/sbin/postfix -c "$LAB/postfix" reload
sleep 1
tail -c "+$start" "$LOG" > tests/data/logs/lab-xfs-postfix.log
