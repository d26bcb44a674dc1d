-- name: HitRateLimit :one
-- HitRateLimit counts one event against key in a fixed window and returns the
-- count and when the window started. A window that started at or before
-- window_floor (now minus the window's length) has passed and restarts at now.
INSERT INTO rate_limits AS r (key, window_start, count)
VALUES (@key, @now, 1)
ON CONFLICT (key) DO UPDATE
SET count        = CASE WHEN r.window_start > @window_floor THEN r.count + 1 ELSE 1 END,
    window_start = CASE WHEN r.window_start > @window_floor THEN r.window_start ELSE EXCLUDED.window_start END
RETURNING count, window_start;

-- name: PeekRateLimit :one
-- PeekRateLimit reads a counter without counting; zero when its window passed.
SELECT (CASE WHEN window_start > @window_floor THEN count ELSE 0 END)::integer AS count, window_start
FROM rate_limits
WHERE key = @key;

-- name: ResetRateLimit :exec
DELETE FROM rate_limits WHERE key = @key;

-- name: DeleteStaleRateLimits :execrows
-- DeleteStaleRateLimits deletes at most batch_size windows that started
-- before before (the purge loops; see DeleteExpiredVerificationTokens).
DELETE FROM rate_limits
WHERE key = ANY (ARRAY(SELECT old.key FROM rate_limits old WHERE old.window_start < @before ORDER BY old.window_start LIMIT @batch_size));

-- name: CarryRateLimit :exec
-- CarryRateLimit copies the live window of from_key to to_key unless to_key
-- already holds a live window with at least as many events: an account's
-- failed sign-ins follow it to its new email address.
INSERT INTO rate_limits AS r (key, window_start, count)
SELECT @to_key::text, f.window_start, f.count
FROM rate_limits f
WHERE f.key = @from_key::text AND f.window_start > @window_floor
ON CONFLICT (key) DO UPDATE
SET count = EXCLUDED.count, window_start = EXCLUDED.window_start
WHERE r.window_start <= @window_floor OR r.count < EXCLUDED.count;
