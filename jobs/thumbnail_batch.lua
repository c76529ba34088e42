-- thumbnail_batch: a parent job (flows). Its first run spawns one thumbnail child per image (on
-- the thumbnails queue: parent and children need not share a queue) and returns
-- zerog.WAIT_CHILDREN, which parks it without holding a worker; once every child has ended it
-- runs again (self.flowRound is 1 then) and reads their ends in self:children().
-- A broken image fails only itself: its children are spawned with on_failure = "ignore"
-- (the default, "fail_parent", would end this job with 424 as soon as one failed for good).
--   build/zerog submit thumbnail_batch '{"images": ["a.png", "b.png", "broken.png"]}'
local zerog = require "zerog"

return {
  JOB_TYPE = "thumbnail_batch",
  SCHEMA = {
    images = { type = "array", default = {} },
    size = { type = "integer" },
    made = { type = "integer" }, -- how many thumbnails were made
  },

  run = function(self)
    if #self.images == 0 then return 200 end -- nothing to wait for
    if self.flowRound == 0 then -- the first run: spawn, then wait
      for _, image in ipairs(self.images) do
        self:spawn("thumbnail", { image = image, size = self.size or 128 }, { on_failure = "ignore" })
      end
      return zerog.WAIT_CHILDREN
    end
    local made = 0
    for _, child in ipairs(self:children()) do
      if child.failed then
        self:record_warning("no thumbnail: " .. tostring(child.lastError and child.lastError.msg))
      else
        made = made + 1
      end
    end
    self:update_attrs { made = made }
    return 200
  end,
}
