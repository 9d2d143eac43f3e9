-- wrk script: send the file named by $BODY (if any) as JSON with the method in $METHOD
-- (default GET) on every request, over keep-alive connections.
wrk.method = os.getenv("METHOD") or "GET"
local path = os.getenv("BODY")
if path and path ~= "" then
  local f = assert(io.open(path, "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/json"
end
