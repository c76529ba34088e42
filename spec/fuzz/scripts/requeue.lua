return {
  JOB_TYPE = "requeue",
  run = function(self)
    self:raise_error_continue(503, "not yet")
    return -1, 5
  end,
}
