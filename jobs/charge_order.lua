-- charge_order: charges an order once, however many times it is submitted: UNIQUE keys jobs by
-- their order_id, so a submit of an order whose job waits, runs or has succeeded (within a day)
-- gets that job's uuid back (exit 0 and a note on stderr; HTTP 200 with "existing": true) and
-- creates nothing; a failed charge lets the order be submitted again.
--   build/zerog submit charge_order '{"order_id": 42, "cents": 1999}'   (twice: one job)
return {
  JOB_TYPE = "charge_order",
  QUEUE_NAME = "payments",
  UNIQUE = { key = "order_id", ttl = 24 * 3600, ["while"] = "until_done" },
  SCHEMA = {
    order_id = { type = "integer", default = 1 },
    cents = { type = "integer", default = 100 },
  },

  run = function(self)
    if self.cents <= 0 then self:raise_error_finish(400, "nothing to charge") end
    self:job_log_info(string.format("charged order %d: %d cents", self.order_id, self.cents))
    return 200
  end,
}
