-- peek: the priority of the most urgent ready job of the types ARGV[1..] ({1, priority}), or
-- {0, ms to wait}. Lets a host serving several queues pick the queue to claim from.
advance()
local m, score = most_urgent(1, #ARGV, false)
if m then return { 1, score } end
return { 0, soonest_wait() }
