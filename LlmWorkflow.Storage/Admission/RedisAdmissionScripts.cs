// Data layout per scope: `log` (sorted set lease -> when counted), `amt` (hash lease -> "requests:input:output", plus the
// running totals of those: all calls', each tenant's and each user's, and when they were last recounted), `own` (lease
// -> tenant and user). A reservation reads the totals (one HMGET) and removes only the calls that left the window
// (ZRANGEBYSCORE from the oldest, each taken off the totals once), so its Redis work is O(1) amortized whatever the
// window holds; the calls themselves are read only to say how long a refused call waits, and by a recount once a window.
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
        -- A call's owner as `own` holds it: the tenant, a tab, the user's id escaped as in a URL (so it holds no tab:
        -- the last tab splits). An entry written before users were recorded has no tab: the tenant's user "".
        local function split_owner(owner)
          local tenant, user = string.match(owner, '^(.*)\t([^\t]*)$')
          if tenant then return tenant, user end
          return owner, ''
        end
        -- A scope's totals are fields of its amt hash, so they live and go (expiry, FLUSHALL) with the amounts they sum:
        -- TOTAL for all its calls, '\tt:' .. tenant and '\tu:' .. tenant .. '\t' .. user for each owner's (no tenant id
        -- can make one the other's), RECOUNTED when they were last recounted from the calls. Each is
        -- 'requests:input:output'; an owner's goes when it is 0. A tab starts no lease id.
        local TOTAL, RECOUNTED = '\tall', '\tat'
        local function tenant_total(tenant) return '\tt:' .. tenant end
        local function user_total(owner) return '\tu:' .. owner end
        -- Adds each change {requests, input, output, owner or false} to the totals: one HMGET and one HSET.
        local function add_totals(amt, changes)
          local deltas, fields = {}, {}
          local function add(field, c)
            local d = deltas[field]
            if not d then d = {0, 0, 0}; deltas[field] = d; fields[#fields + 1] = field end
            d[1] = d[1] + c[1]; d[2] = d[2] + c[2]; d[3] = d[3] + c[3]
          end
          for _, c in ipairs(changes) do
            add(TOTAL, c)
            if c[4] then
              local tenant, user = split_owner(c[4])
              add(tenant_total(tenant), c)
              add(user_total(tenant .. '\t' .. user), c)
            end
          end
          local held = redis.call('HMGET', amt, unpack(fields))
          local set, gone = {}, {}
          for k, field in ipairs(fields) do
            local r, i, o = amounts(held[k])
            local d = deltas[field]
            r, i, o = r + d[1], i + d[2], o + d[3]
            if field ~= TOTAL and r == 0 and i == 0 and o == 0 then gone[#gone + 1] = field
            else set[#set + 1] = field; set[#set + 1] = string.format('%d:%d:%d', r, i, o) end
          end
          if #set > 0 then redis.call('HSET', amt, unpack(set)) end
          if #gone > 0 then redis.call('HDEL', amt, unpack(gone)) end
        end
        -- The calls `leases` as changes to the totals, their amounts times `sign`.
        local function changes_of(amt, own, leases, sign)
          local values = redis.call('HMGET', amt, unpack(leases))
          local owners = redis.call('HMGET', own, unpack(leases))
          local changes = {}
          for k = 1, #leases do
            local r, i, o = amounts(values[k])
            changes[k] = {sign * r, sign * i, sign * o, owners[k]}
          end
          return changes
        end
        -- Writes a call stamped now (new, or replacing what its lease held) and moves the totals by the difference.
        local function put_call(log, amt, own, lease, r, i, o, owner)
          local held = changes_of(amt, own, {lease}, -1)[1]
          redis.call('ZADD', log, now, lease)
          redis.call('HSET', amt, lease, string.format('%d:%d:%d', r, i, o))
          if owner then redis.call('HSET', own, lease, owner) end
          add_totals(amt, {held, {r, i, o, owner or held[4]}})
        end
        -- Removes the calls that left the window, a page at a time, taking them off the totals: each call is removed
        -- once, so over a window this costs what its calls cost to add.
        local function purge(log, amt, own, window_ms)
          local before = '(' .. (now - window_ms)
          repeat
            local old = redis.call('ZRANGEBYSCORE', log, '-inf', before, 'LIMIT', 0, 1000)
            if #old > 0 then
              add_totals(amt, changes_of(amt, own, old, -1))
              redis.call('ZREM', log, unpack(old))
              redis.call('HDEL', amt, unpack(old))
              redis.call('HDEL', own, unpack(old))
            end
          until #old < 1000
        end
        -- Sums every call anew (drops the totals, adds each call): the first time a window is read without totals
        -- (written before they were kept, or lost apart from the calls), then once a window, so a total that drifted
        -- from its calls (a script stopped half-way, a worker of an older version) heals within a window. Once a
        -- window, it adds no more per call than reading each call once.
        local function recount(log, amt, own)
          local totals = {}
          for _, field in ipairs(redis.call('HKEYS', amt)) do
            if string.byte(field, 1) == 9 then totals[#totals + 1] = field end
          end
          for first = 1, #totals, 1000 do redis.call('HDEL', amt, unpack(totals, first, math.min(#totals, first + 999))) end
          local calls = redis.call('ZRANGE', log, 0, -1)
          for first = 1, #calls, 1000 do
            add_totals(amt, changes_of(amt, own, {unpack(calls, first, math.min(#calls, first + 999))}, 1))
          end
          redis.call('HSET', amt, RECOUNTED, now)
          -- A recount of calls whose amounts were lost makes amt anew: it goes with its calls.
          local left = redis.call('PTTL', log)
          if left > 0 then extend(amt, left) end
        end
        local function sums(value)
          local r, i, o = amounts(value)
          return {r, i + o, i, o}
        end
        -- One scope's window after removing the calls that left it: its sums {requests, tokens, input, output} and
        -- each of `owners` (fields of the totals)' sums, by field. Reads the totals, not the calls.
        local function window(log, amt, window_ms, own, owners)
          purge(log, amt, own, window_ms)
          local found = {}
          -- No calls: amounts left without their calls (the log lost apart from them) count for nothing, as they never did.
          if redis.call('EXISTS', log) == 0 then
            redis.call('DEL', amt)
            return {0, 0, 0, 0}, found
          end
          local fields = {RECOUNTED, TOTAL}
          for _, field in ipairs(owners or {}) do fields[#fields + 1] = field end
          local held = redis.call('HMGET', amt, unpack(fields))
          if not held[1] or now - tonumber(held[1]) >= window_ms then
            recount(log, amt, own)
            held = redis.call('HMGET', amt, unpack(fields))
          end
          for k = 3, #fields do found[fields[k]] = sums(held[k]) end
          return sums(held[2]), found
        end
        -- The window's calls oldest first, a page at a time, until `visit(at, sums, owner)` returns a value: a wait
        -- that the oldest few calls decide reads only those. Only a call that waits reads the calls.
        local function oldest_first(log, amt, own, visit)
          local from, size = 0, 50
          while true do
            local entries = redis.call('ZRANGE', log, from, from + size - 1, 'WITHSCORES')
            local calls = #entries / 2
            if calls == 0 then return nil end
            local leases = {}
            for c = 1, calls do leases[c] = entries[2 * c - 1] end
            local values = redis.call('HMGET', amt, unpack(leases))
            local owners = redis.call('HMGET', own, unpack(leases))
            for c = 1, calls do
              local found = visit(tonumber(entries[2 * c]), sums(values[c]), owners[c])
              if found then return found end
            end
            if calls < size then return nil end
            from = from + size
            size = math.min(size * 4, 1000)
          end
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
        -- Each tenant's sums in the window, and each user's (keyed tenant, tab, user); unowned entries (a re-sync from
        -- the provider's headers) are nobody's. Reads every call: for the usage endpoint, not for a reservation.
        local function by_owner(log, amt, own)
          local tenants, users = {}, {}
          local function add(parts, key, used)
            local part = parts[key] or {used = {0, 0, 0, 0}}
            parts[key] = part
            for d = 1, 4 do part.used[d] = part.used[d] + used[d] end
          end
          oldest_first(log, amt, own, function(_, used, owner)
            if owner then
              local tenant, user = split_owner(owner)
              add(tenants, tenant, used)
              add(users, tenant .. '\t' .. user, used)
            end
          end)
          return tenants, users
        end
        """;

    // KEYS per scope: log, amt, own. ARGV: lease, r, i, o, window_ms, ttl_ms. Stamped now: the provider counted the
    // call no earlier, so it leaves this window no sooner than the provider's. What the call used replaces what it
    // reserved in the totals (a refund when it used less), under the same owner.
    internal const string ReconcileScript = Common + "\n" + """
        for s = 1, #KEYS / 3 do
          local log, amt, own = KEYS[3*s-2], KEYS[3*s-1], KEYS[3*s]
          put_call(log, amt, own, ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), nil)
          redis.call('PEXPIRE', log, tonumber(ARGV[5]) + tonumber(ARGV[6]))
          redis.call('PEXPIRE', amt, tonumber(ARGV[5]) + tonumber(ARGV[6]))
        end
        return 1
        """;

    // KEYS per scope: log, amt, own, fly, meta; then, to report the answer to the provider's outage breaker, its hash and
    // probe key. ARGV as ReconcileScript's, then the number of scopes. The reconcile and the release of an answered call
    // in one script (one round trip where there were two, three with the breaker's); returns {1 when steps were waiting
    // for a slot, 1 when the answer closed an open breaker}.
    internal const string ReconcileAndReleaseScript = Common + "\n" + RedisOutageScripts.Answered + "\n" + """
        local woke = 0
        local n = tonumber(ARGV[7])
        for s = 1, n do
          local log, amt, own, fly, meta = KEYS[5*s-4], KEYS[5*s-3], KEYS[5*s-2], KEYS[5*s-1], KEYS[5*s]
          put_call(log, amt, own, ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), nil)
          redis.call('PEXPIRE', log, tonumber(ARGV[5]) + tonumber(ARGV[6]))
          redis.call('PEXPIRE', amt, tonumber(ARGV[5]) + tonumber(ARGV[6]))
          redis.call('ZREM', fly, ARGV[1])
          if redis.call('HDEL', meta, 'waiters') == 1 then woke = 1 end
        end
        local closed = 0
        if #KEYS > 5 * n then closed = outage_answered(KEYS[5 * n + 1], KEYS[5 * n + 2]) end
        return {woke, closed}
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
            put_call(log, amt, KEYS[4*s], id, extra[1], input, extra[4], nil)
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
        local used = window(KEYS[1], KEYS[2], tonumber(ARGV[1]), KEYS[6])
        redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
        local blocked = tonumber(redis.call('HGET', KEYS[4], 'blocked_until') or '0') - now
        local said = said_limits(KEYS[4])
        local result = {used[1], used[3], used[4], redis.call('ZCARD', KEYS[3]), redis.call('EXISTS', KEYS[5]), math.max(0, blocked), said[1], said[2], said[3], said[4]}
        local parts, user_parts = by_owner(KEYS[1], KEYS[2], KEYS[6])
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
