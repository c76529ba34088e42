-- nightly_report: a repeatable job type. REPEAT makes one job every day at 06:00 Paris time,
-- whatever the number of hosts (each tick is taken in the store); a day missed while no worker
-- ran is skipped rather than made up. scheduledFor is the tick the job was made for (Unix ms).
--   build/zerog schedules            lists it as type:nightly_report, with its next run
return {
  JOB_TYPE = "nightly_report",
  REPEAT = { cron = "0 6 * * *", tz = "Europe/Paris", params = { days = 1 }, catch_up = "skip" },
  SCHEMA = {
    days = { type = "integer", default = 1 }, -- how many days the report covers
  },

  run = function(self)
    local day = self.scheduledFor and os.date("!%Y-%m-%d", self.scheduledFor // 1000) or "now"
    self:job_log_info(string.format("report of the %d day(s) before %s", self.days, day))
    return 200
  end,
}
