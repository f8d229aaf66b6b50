"""Jobs: the stored job contract, runners (in-process, Celery), recovery, wording, timing."""
