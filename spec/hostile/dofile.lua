-- expect: global 'dofile'
-- dofile and loadfile would read (and run) any file: not there.
HOSTILE = true
return { JOB_TYPE = "dofile", MAX_ERRORS = 1, run = function()
  if loadfile then
    local chunk = loadfile("/etc/passwd")
    if chunk or loadfile("/etc/hostname") then return 200 end
  end
  dofile("/etc/passwd")
  return 200
end }
