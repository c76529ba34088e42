-- send_email: sends one email through a provider that allows 10 requests a second and 3 open
-- connections, fairly between customers: RATE and CONCURRENCY cap the starts and the runs across
-- every worker on the store, per customer (GROUP), and customers with waiting mail take turns, so
-- one customer's 100,000 newsletters do not hold up another's password reset.
--   build/zerog submit send_email '{"customer_id": "acme", "to": "a@example.com"}'
return {
  JOB_TYPE = "send_email",
  QUEUE_NAME = "email",
  RATE = { limit = 10, per = 1 }, -- at most 10 starts in any second, per customer
  CONCURRENCY = 3,                -- at most 3 running at once, per customer
  GROUP = "customer_id",
  SCHEMA = {
    customer_id = { type = "string", default = "demo" },
    to = { type = "string", default = "someone@example.com" },
    subject = { type = "string", default = "" },
  },

  run = function(self)
    self:job_log_info(string.format("sent to %s for %s", self.to, self.customer_id))
    return 200
  end,
}
