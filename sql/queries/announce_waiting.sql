-- Worker $1 found the queue empty and is about to sleep: from now on new jobs NOTIFY it
-- (ml.wake_idle_workers). Its own transaction: submitters must see it committed.
UPDATE ml.workers SET waiting = true WHERE worker_id = $1
