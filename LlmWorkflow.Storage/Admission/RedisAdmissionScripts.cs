namespace LlmWorkflow.Storage.Admission;

/// <summary>
/// The Lua of <see cref="RedisAdmissionStore"/>: each operation is one script, so a reservation in several scopes is all
/// or nothing. <see cref="Common"/> is the part every script that reads a window shares; the reservation is in
/// RedisAdmissionScripts.Reserve.cs.
/// </summary>
internal static partial class RedisAdmissionScripts
{
    // Shared Lua: the clock, one scope's window sums (purging what fell out of the window), its caps lowered to what the
    // provider last said its limits are, and an expiry that only ever lengthens (meta holds fields of different lives).
    internal const string Common = """
        local said_fields = {'said_requests', 'said_tokens', 'said_input_tokens', 'said_output_tokens'}
        local function said_limits(meta)
          local said = redis.call('HMGET', meta, unpack(said_fields))
          for d = 1, 4 do said[d] = tonumber(said[d] or '-1') end
          return said
        end
        -- A configured cap lowered to what the provider said; an unconfigured one (-1) is what the provider said.
        local function lowered(cap, said)
          if said > 0 and (cap < 0 or said < cap) then return said end
          return cap
        end
        local function extend(key, ms)
          local left = redis.call('PTTL', key)
          if left == -1 or (left >= 0 and left < ms) then redis.call('PEXPIRE', key, ms) end
        end
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local function amounts(v)
          local r, i, o = string.match(v or '0:0:0', '(-?%d+):(-?%d+):(-?%d+)')
          return tonumber(r), tonumber(i), tonumber(o)
        end
        local function window(log, amt, window_ms, own)
          local old = redis.call('ZRANGEBYSCORE', log, '-inf', '(' .. (now - window_ms))
          if #old > 0 then
            redis.call('ZREMRANGEBYSCORE', log, '-inf', '(' .. (now - window_ms))
            redis.call('HDEL', amt, unpack(old))
            if own then redis.call('HDEL', own, unpack(old)) end
          end
          local entries = redis.call('ZRANGE', log, 0, -1, 'WITHSCORES')
          local used = {0, 0, 0, 0}
          local list = {}
          -- The calls' amounts in one HMGET per 1,000 calls, not one HGET each: a busy scope's window holds
          -- thousands of calls, and each redis.call costs more than the sums (1,000 keeps unpack within Lua's stack).
          local calls = #entries / 2
          for first = 1, calls, 1000 do
            local last = math.min(calls, first + 999)
            local fields = {}
            for c = first, last do fields[#fields + 1] = entries[2 * c - 1] end
            local values = redis.call('HMGET', amt, unpack(fields))
            for c = first, last do
              local r, i, o = amounts(values[c - first + 1])
              used[1] = used[1] + r; used[2] = used[2] + i + o; used[3] = used[3] + i; used[4] = used[4] + o
              list[#list + 1] = {tonumber(entries[2 * c]), r, i + o, i, o, entries[2 * c - 1]}
            end
          end
          return used, list
        end
        -- Who waits on a scope for a share (`ten`: tenants; `usr`: users, as owner keys): {expiry, weight} by field
        -- (expired registrations go).
        local function waiters(hash)
          local found = {}
          local entries = redis.call('HGETALL', hash)
          for k = 1, #entries, 2 do
            local expiry, weight = string.match(entries[k + 1], '^(%d+):(.+)$')
            if tonumber(expiry) <= now then redis.call('HDEL', hash, entries[k])
            else found[entries[k]] = {tonumber(expiry), tonumber(weight)} end
          end
          return found
        end
        -- A call's owner as `own` holds it: the tenant, a tab, the user's id escaped as in a URL (so it holds no tab:
        -- the last tab splits). An entry written before users were recorded has no tab: the tenant's user "".
        local function split_owner(owner)
          local tenant, user = string.match(owner, '^(.*)\t([^\t]*)$')
          if tenant then return tenant, user end
          return owner, ''
        end
        local function add_call(parts, key, e)
          local part = parts[key]
          if not part then part = {used = {0, 0, 0, 0}, list = {}}; parts[key] = part end
          part.used[1] = part.used[1] + e[2]; part.used[2] = part.used[2] + e[3]
          part.used[3] = part.used[3] + e[4]; part.used[4] = part.used[4] + e[5]
          part.list[#part.list + 1] = e
        end
        -- Each tenant's calls in the window (window's list, oldest first) and their sums, and each user's (keyed
        -- tenant, tab, user); unowned entries (a re-sync from the provider's headers) are nobody's.
        local function by_owner(own, list)
          local tenants, users = {}, {}
          if #list == 0 then return tenants, users end
          local leases = {}
          for k = 1, #list do leases[k] = list[k][6] end
          local owners = redis.call('HMGET', own, unpack(leases))
          for k = 1, #list do
            if owners[k] then
              local tenant, user = split_owner(owners[k])
              add_call(tenants, tenant, list[k])
              add_call(users, tenant .. '\t' .. user, list[k])
            end
          end
          return tenants, users
        end
        """;

    // KEYS per scope: log, amt. ARGV: lease, r, i, o, window_ms, ttl_ms. Stamped now: the provider counted the call no
    // earlier, so it leaves this window no sooner than the provider's.
    internal const string ReconcileScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        for s = 1, #KEYS / 2 do
          redis.call('ZADD', KEYS[2*s-1], now, ARGV[1])
          redis.call('HSET', KEYS[2*s], ARGV[1], ARGV[2] .. ':' .. ARGV[3] .. ':' .. ARGV[4])
          redis.call('PEXPIRE', KEYS[2*s-1], tonumber(ARGV[5]) + tonumber(ARGV[6]))
          redis.call('PEXPIRE', KEYS[2*s], tonumber(ARGV[5]) + tonumber(ARGV[6]))
        end
        return 1
        """;

    // KEYS per scope: fly, meta. ARGV: lease. Returns 1 when steps were waiting for a slot.
    internal const string ReleaseScript = """
        local woke = 0
        for s = 1, #KEYS / 2 do
          redis.call('ZREM', KEYS[2*s-1], ARGV[1])
          if redis.call('HDEL', KEYS[2*s], 'waiters') == 1 then woke = 1 end
        end
        return woke
        """;

    // KEYS per scope: log, amt, meta, own. ARGV: window_ms, blocked_ms, remaining r/t/i/o (-1 unknown), the provider's
    // limits r/t/i/o (-1 unknown), said_ttl_ms, n, caps per scope (req, tokens, input, output). A limit the provider
    // says is lower than a configured one replaces it (until answers a window later say otherwise, or said_ttl_ms
    // without one);
    // what the provider says is left, measured against that limit, lowers what is left here: a synthetic entry makes
    // up the difference; a 429 blocks the scope until its retry-after.
    internal const string ShrinkScript = Common + "\n" + """
        local window_ms = tonumber(ARGV[1])
        local blocked_ms = tonumber(ARGV[2])
        local remaining = {tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])}
        local limits = {tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])}
        local said_ttl_ms = tonumber(ARGV[11])
        local n = tonumber(ARGV[12])
        for s = 1, n do
          local log, amt, meta = KEYS[4*s-3], KEYS[4*s-2], KEYS[4*s-1]
          local used = window(log, amt, window_ms, KEYS[4*s])
          local extra = {0, 0, 0, 0}
          local any = false
          local said = said_limits(meta)
          for d = 1, 4 do
            local configured = tonumber(ARGV[12 + (s - 1) * 4 + d])
            if configured ~= 0 and limits[d] > 0 then
              -- Lowered at once; raised (or ended) only once the held limit was last said a window ago: answers are
              -- re-synced in no set order, and one sent before the provider lowered its limit still says the old one.
              -- Without a configured limit (-1) the provider's is the limit: learned, never ended.
              local value = limits[d]
              if configured > 0 then value = math.min(limits[d], configured) end
              local said_at = tonumber(redis.call('HGET', meta, said_fields[d] .. '_at') or '0')
              if said[d] < 0 or value <= said[d] or now - said_at >= window_ms then
                if configured < 0 or value < configured then
                  redis.call('HSET', meta, said_fields[d], value, said_fields[d] .. '_at', now)
                  extend(meta, said_ttl_ms)
                else
                  redis.call('HDEL', meta, said_fields[d], said_fields[d] .. '_at')
                end
                said[d] = value
              end
            end
          end
          for d = 1, 4 do
            local cap = lowered(tonumber(ARGV[12 + (s - 1) * 4 + d]), said[d])
            if cap > 0 and remaining[d] >= 0 and cap - remaining[d] > used[d] then
              extra[d] = cap - remaining[d] - used[d]
              any = true
            end
          end
          if any then
            -- tokens (d = 2) count as input unless input/output were given apart.
            local input = math.max(extra[3], extra[2] - extra[4])
            local id = 'sync:' .. now .. ':' .. math.random(1000000)
            redis.call('ZADD', log, now, id)
            redis.call('HSET', amt, id, extra[1] .. ':' .. input .. ':' .. extra[4])
            redis.call('PEXPIRE', log, window_ms * 2)
            redis.call('PEXPIRE', amt, window_ms * 2)
          end
          if blocked_ms > 0 then
            local until_ms = now + blocked_ms
            if until_ms > tonumber(redis.call('HGET', meta, 'blocked_until') or '0') then
              redis.call('HSET', meta, 'blocked_until', until_ms)
              extend(meta, window_ms + blocked_ms)
            end
          end
        end
        return 1
        """;

    // KEYS: log, amt, fly, meta, pause, own, ten, usr. ARGV: window_ms. Returns {requests, input, output, in_flight,
    // paused, blocked_ms, the provider's said limits r/t/i/o (-1 unknown)}, then per active tenant (calls in the window or waiting) its id, requests, tokens, waiting
    // (1/0) and its waiting users' count, followed by each of them: its id (escaped), requests and tokens.
    internal const string UsageScript = Common + "\n" + """
        local used, list = window(KEYS[1], KEYS[2], tonumber(ARGV[1]), KEYS[6])
        redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
        local blocked = tonumber(redis.call('HGET', KEYS[4], 'blocked_until') or '0') - now
        local said = said_limits(KEYS[4])
        local result = {used[1], used[3], used[4], redis.call('ZCARD', KEYS[3]), redis.call('EXISTS', KEYS[5]), math.max(0, blocked), said[1], said[2], said[3], said[4]}
        local parts, user_parts = by_owner(KEYS[6], list)
        local waiting = waiters(KEYS[7])
        -- The waiting users by tenant: those a tenant's users' shares are among.
        local waiting_users = {}
        for owner, _ in pairs(waiters(KEYS[8])) do
          local tenant, user = split_owner(owner)
          waiting_users[tenant] = waiting_users[tenant] or {}
          table.insert(waiting_users[tenant], {user, user_parts[owner]})
        end
        local function add(tenant, part)
          local users = waiting_users[tenant] or {}
          for _, v in ipairs({tenant, part and part.used[1] or 0, part and part.used[2] or 0, waiting[tenant] and 1 or 0, #users}) do result[#result + 1] = v end
          for _, u in ipairs(users) do
            for _, v in ipairs({u[1], u[2] and u[2].used[1] or 0, u[2] and u[2].used[2] or 0}) do result[#result + 1] = v end
          end
        end
        for tenant, part in pairs(parts) do add(tenant, part) end
        for tenant, _ in pairs(waiting) do
          if not parts[tenant] then add(tenant, nil) end
        end
        return result
        """;
}
