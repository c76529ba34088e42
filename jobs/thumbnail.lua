-- thumbnail: one child of thumbnail_batch (flows). Pretends to scale one image and records the
-- thumbnail's name as its result; an image named "broken*" fails.
--   build/zerog submit thumbnail '{"image": "cat.png", "size": 64}'
return {
  JOB_TYPE = "thumbnail",
  QUEUE_NAME = "thumbnails",
  MAX_ERRORS = 1,
  RETRY_DELAY = 0,
  SCHEMA = {
    image = { type = "string", default = "sample.png" },
    size = { type = "integer" },
    result = { type = "string" }, -- the thumbnail's name, which the parent reads in children()
  },

  run = function(self)
    if self.image:find("^broken") then self:raise_error_finish(422, "cannot read " .. self.image) end
    self:update_attrs { result = (self.size or 128) .. "px-" .. self.image }
    return 200
  end,
}
