-- The LuaLS annotations (lua/meta/zerog.lua) cover the whole job API: every method of BaseJob and
-- every function and constant of the zerog module, so editors complete all of it.
describe("LuaLS annotations", function()
  local text, Job, zerog

  setup(function()
    local f = assert(io.open("lua/meta/zerog.lua"))
    text = f:read("a")
    f:close()
    package.path = "lua/?.lua;" .. package.path
    package.preload["zerog.core"] = function() return {} end
    Job = require "zerog.job"
    zerog = require "zerog"
  end)

  it("is valid Lua", function()
    assert.is_truthy(load(text, "@lua/meta/zerog.lua"))
  end)

  it("annotates every public method of BaseJob", function()
    local missing = {}
    for name, v in pairs(Job) do
      if type(v) == "function" and not name:match("^_") and name ~= "new" and name ~= "make_key"
        and not text:find("function BaseJob:" .. name .. "%(") then
        missing[#missing + 1] = name
      end
    end
    table.sort(missing)
    assert.are.same({}, missing)
  end)

  it("annotates the methods a job type defines", function()
    for _, name in ipairs { "run", "init", "migrate", "get_data", "continue_running" } do
      assert.is_truthy(text:find("function BaseJob:" .. name .. "%("), name)
    end
  end)

  it("annotates every document field and setting", function()
    local schema = require "zerog.schema"
    for _, f in ipairs(schema.BASE) do
      assert.is_truthy(text:find("---@field " .. f.name .. " ", 1, true), f.name)
    end
    for name, v in pairs(Job) do
      if name:match("^%u[%u_]+$") and type(v) ~= "function" and name ~= "DOCUMENT_TYPE" then
        assert.is_truthy(text:find("---@field " .. name .. " ", 1, true), name)
      end
    end
  end)

  it("annotates every function and constant of the zerog module", function()
    for name, v in pairs(zerog) do
      if type(v) == "function" then
        assert.is_truthy(text:find("function zerog." .. name .. "%("), name)
      else
        assert.is_truthy(text:find("---@field " .. name .. " ", 1, true), name)
      end
    end
  end)
end)
