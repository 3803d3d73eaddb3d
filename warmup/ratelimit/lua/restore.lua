-- Put back the windows a Redis without persistence lost on restart, once.
--
-- KEYS[1]        the marker: present while this Redis holds windows it counted itself
-- KEYS[2..k+1]   one hash per limit (as acquire.lua keeps them)
-- ARGV[1..k]     per limit, its time to live in milliseconds
-- ARGV[k+1..]    per limit, a JSON object: bucket index -> permits counted in it
--
-- Returns 1 when this call restored, 0 when the marker was there (another process restored, or
-- nothing was lost). Atomic: no grant interleaves with a half-restored window.
if redis.call('SET', KEYS[1], '1', 'NX') == false then
  return 0
end
local k = #KEYS - 1
for i = 2, #KEYS do
  local ttl = tonumber(ARGV[i - 1])
  local counts = cjson.decode(ARGV[k + i - 1])
  local any = false
  for index, n in pairs(counts) do
    redis.call('HINCRBY', KEYS[i], index, n)
    any = true
  end
  if any then
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
return 1
