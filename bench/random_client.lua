-- wrk script: every request claims another client address, in an
-- X-Real-IP header that nginx's realip module trusts from 127.0.0.1.
--
--   wrk ... -s random_client.lua URL -- ADDRESS_FILE
--
-- The requests are built once, in init(), so wrk does no more work per
-- request than with a fixed request (a table lookup).

local reqs = {}
local n = 0
local i = 0

function init(args)
    local path = args[1]
    local f = assert(io.open(path, "r"))
    for line in f:lines() do
        if line ~= "" then
            n = n + 1
            reqs[n] = wrk.format("GET", nil, { ["X-Real-IP"] = line })
        end
    end
    f:close()
    assert(n > 0, "no address in " .. path)
    -- every thread starts elsewhere in the list
    i = math.random(n) - 1
end

function request()
    i = i + 1
    if i > n then
        i = 1
    end
    return reqs[i]
end
