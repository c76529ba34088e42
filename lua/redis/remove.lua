-- remove: deletes job KEYS[2] whatever its state (document, lists, queue entry, index entry).
-- Returns 1, or 0 when there was no such job.
return delete_job(string.sub(KEYS[2], #p + 6)) and 1 or 0
