-- wrk script for bench/run-jobs-bench.sh's figure 4: the receiver's own
-- ceiling, measured with requests like the worker's deliveries (POST, the
-- body of a real bulk.completed event read from $JB_BODY_FILE, the same
-- headers, keep-alive).
local f = assert(io.open(os.getenv("JB_BODY_FILE"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Email-Verify-Event"] = "bulk.completed"
wrk.headers["X-Email-Verify-Event-Id"] = "00000000-0000-4000-8000-000000000000"
wrk.headers["User-Agent"] = "wrk (email_verify bench)"
