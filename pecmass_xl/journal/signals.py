"""Keys of the journal's meta table through which a front and a background run talk to each other.

Sending and receipt following both honour them, so they live below both: a stop request, the running
worker's process id, and the send's progress.
"""

STOP_META = "stop_requested"
PROGRESS_META = "progress"
WORKER_META = "worker_pid"
