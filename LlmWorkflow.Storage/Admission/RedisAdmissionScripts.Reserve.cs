namespace LlmWorkflow.Storage.Admission;

internal static partial class RedisAdmissionScripts
{
    // KEYS per scope: log, amt, fly, meta, own (lease -> tenant and user), ten (waiting tenants), usr (waiting users);
    // then the pause key, then per scope seen (tenants that used it lately), then per scope pri (the high-priority calls
    // waiting on it). ARGV: window_ms, lease, lease_ttl_ms, need r/i/o, n, tenant, weight, grace_ms, user (escaped), user
    // weight, then per scope caps req, tokens, input, output, concurrent (-1 = unlimited) and fair (1 = a provider's,
    // model's or key's scope, shared by weight), then the burst reserve, seen_ms, the priority band, band_ms, whether the
    // call is high-priority (1/0), a high-priority call's key (the same across its job's parks) and the probe's ttl
    // (0: the outage breaker is not asked; else KEYS ends with the provider's breaker hash and probe key). Returns
    // {wait_ms, scope, reason}: wait 0 = reserved, -1 = no known end (full concurrency, paused, zero budget); an open
    // breaker returns {wait_ms, 0, 'outage', wait_until_ms} and reserves nothing.
    internal const string ReserveScript = Common + "\n" + RedisOutageScripts.Enter + "\n" + """
        local window_ms = tonumber(ARGV[1])
        local lease = ARGV[2]
        local ttl = tonumber(ARGV[3])
        local need = {tonumber(ARGV[4]), tonumber(ARGV[5]) + tonumber(ARGV[6]), tonumber(ARGV[5]), tonumber(ARGV[6])}
        local n = tonumber(ARGV[7])
        local tenant, weight, grace = ARGV[8], tonumber(ARGV[9]), tonumber(ARGV[10])
        local user = tenant .. '\t' .. ARGV[11]
        local user_weight = tonumber(ARGV[12])
        -- The burst reserve: while another tenant used a fair scope within seen_ms, a tenant above its weighted share
        -- leaves the others at least `reserve` of the limit, used or free.
        local reserve, seen_ms = tonumber(ARGV[12 + 6 * n + 1]), tonumber(ARGV[12 + 6 * n + 2])
        -- The priority band: while a high-priority call used or waited on a scope within band_ms (meta's
        -- `priority_until`), the others may fill no more than 1 - band of its limit, so the band is free for it.
        local band, band_ms, high = tonumber(ARGV[12 + 6 * n + 3]), tonumber(ARGV[12 + 6 * n + 4]), ARGV[12 + 6 * n + 5] == '1'
        -- A high-priority call that waits is recorded in each scope's pri (call key -> expiry:requests:input:output)
        -- until its retry and the grace, and leaves it when it is reserved: the others leave room for it below the band.
        local call_key = ARGV[12 + 6 * n + 6]
        local function pri_key(s) return KEYS[8 * n + 1 + s] end
        local names = {'requests', 'tokens', 'input_tokens', 'output_tokens'}
        -- How long until enough of the window's oldest calls (of `scope`, {log, amt, own}) leave for `want` more to
        -- fit within `allowed`.
        local function fits_after(scope, used_d, d, want, allowed)
          local freed = 0
          return oldest_first(scope[1], scope[2], scope[3], function(at, amount)
            freed = freed + amount[d]
            if used_d - freed + want <= allowed then return at + window_ms - now + 1 end
          end) or window_ms
        end
        -- My weight's part among the others waiting that `counts` keeps, and until when the last of them waits;
        -- {1, 0} while none does (work-conserving: only waiters count).
        local function share_of(waiting, me, my_weight, counts)
          local total, last = my_weight, 0
          for other, entry in pairs(waiting) do
            if other ~= me and counts(other) then total = total + entry[2]; last = math.max(last, entry[1]) end
          end
          if last == 0 then return 1, 0 end
          return my_weight / total, last
        end
        local function any_tenant() return true end
        local function is_my_tenant(owner) return (split_owner(owner)) == tenant end
        local function is_me(owner)
          local owner_tenant, owner_user = split_owner(owner)
          return owner_tenant .. '\t' .. owner_user == user
        end
        -- How long a caller whose calls in the window (those `is_mine` owns) sum to `part` waits to hold `want` more
        -- within `allowed` (0: it may): until enough of its own oldest calls leave the window (all of them, for a call
        -- above its share), or until the others stop waiting, whichever is first. Holding nothing it is never held, so
        -- every waiter moves on. Only a call that waits reads the calls.
        local function share_wait(scope, part, is_mine, d, want, allowed, others_until)
          if not part or part[d] <= 0 or part[d] + want <= allowed then return 0 end
          local freed = 0
          return oldest_first(scope[1], scope[2], scope[3], function(at, amount, owner)
            if owner and is_mine(owner) then
              freed = freed + amount[d]
              if part[d] - freed <= 0 or part[d] - freed + want <= allowed then
                return math.min(others_until - now + 1, at + window_ms - now + 1)
              end
            end
          end) or others_until - now + 1
        end
        -- What the high-priority calls waiting on a scope (its pri hash) will reserve: {requests, tokens, input, output}.
        -- Expired entries (a call that got in elsewhere, gave up, or was not woken in time) go.
        local function high_waiting(pri)
          local total = {0, 0, 0, 0}
          local entries = redis.call('HGETALL', pri)
          for k = 1, #entries, 2 do
            local expiry, amounts_text = string.match(entries[k + 1], '^(%d+):(.+)$')
            if tonumber(expiry) <= now then redis.call('HDEL', pri, entries[k])
            else
              local waiting = sums(amounts_text)
              for d = 1, 4 do total[d] = total[d] + waiting[d] end
            end
          end
          return total
        end
        -- Records `field` as waiting on a scope until `expiry`; a later registration never shortens an earlier one.
        local function register(hash, field, weight_text, expiry, ms)
          local held = tonumber(string.match(redis.call('HGET', hash, field) or '0:', '^(%d+):'))
          if held < expiry then redis.call('HSET', hash, field, expiry .. ':' .. weight_text) end
          extend(hash, ms)
        end
        -- The provider's outage breaker first, as its own check did before the reservation: a call to a provider that
        -- is out reserves nothing; once the open time passed, this call is the probe.
        if tonumber(ARGV[12 + 6 * n + 7] or '0') > 0 then
          local go, _, wait_until = outage_enter(KEYS[9 * n + 2], KEYS[9 * n + 3], tonumber(ARGV[12 + 6 * n + 7]))
          if go == 0 then return {wait_until - now, 0, 'outage', wait_until} end
        end
        if redis.call('EXISTS', KEYS[7 * n + 1]) == 1 then return {-1, 1, 'paused'} end
        local worst, worst_scope, worst_reason = 0, 0, ''
        for s = 1, n do
          local log, amt, fly, meta, own = KEYS[7*s-6], KEYS[7*s-5], KEYS[7*s-4], KEYS[7*s-3], KEYS[7*s-2]
          local base = 12 + (s - 1) * 6
          local fair = ARGV[base + 6] == '1'
          local blocked = tonumber(redis.call('HGET', meta, 'blocked_until') or '0')
          if blocked > now and blocked - now > worst then worst, worst_scope, worst_reason = blocked - now, s, 'rate_limited' end
          local said = said_limits(meta)
          local conc = tonumber(ARGV[base + 5])
          if conc >= 0 then
            redis.call('ZREMRANGEBYSCORE', fly, '-inf', now)
            if redis.call('ZCARD', fly) >= conc then
              redis.call('HSET', meta, 'waiters', '1')
              extend(meta, window_ms + ttl)
              return {-1, s, 'concurrency'}
            end
          end
          local scope = {log, amt, own}
          local used, owned = window(log, amt, window_ms, own, fair and {tenant_total(tenant), user_total(user)} or nil)
          -- While another tenant waits on the scope this tenant may hold its weight's part of the limit (its weight
          -- over its own and the waiting tenants' weights); while another of its users waits, this user may hold its
          -- weight's part of what the tenant may hold.
          local tenant_share, tenants_until, user_share, users_until = 1, 0, 1, 0
          local mine, my_user = nil, nil
          if fair then
            tenant_share, tenants_until = share_of(waiters(KEYS[7*s-1]), tenant, weight, any_tenant)
            user_share, users_until = share_of(waiters(KEYS[7*s]), user, user_weight, is_my_tenant)
            if tenants_until > 0 then mine = owned[tenant_total(tenant)] end
            if users_until > 0 then my_user = owned[user_total(user)] end
          end
          local reserve_part, reserve_mine = nil, nil
          if fair and reserve > 0 then
            local seen = KEYS[7 * n + 1 + s]
            local others_weight = 0
            for other, entry in pairs(waiters(seen)) do
              if other ~= tenant then others_weight = others_weight + entry[2] end
            end
            register(seen, tenant, ARGV[9], now + seen_ms, seen_ms)
            if others_weight > 0 then
              reserve_part, reserve_mine = weight / (weight + others_weight), owned[tenant_total(tenant)]
            end
          end
          local band_held, waiting_high = false, nil
          if band > 0 then
            local held = tonumber(redis.call('HGET', meta, 'priority_until') or '0')
            if high and held < now + band_ms then
              redis.call('HSET', meta, 'priority_until', now + band_ms)
              extend(meta, band_ms)
            end
            band_held = not high and held > now
            if band_held then waiting_high = high_waiting(pri_key(s)) end
          end
          for d = 1, 4 do
            local cap = lowered(tonumber(ARGV[base + d]), said[d])
            if cap == 0 and need[d] > 0 then return {-1, s, 'zero_budget'} end
            if cap > 0 then
              local want = math.min(need[d], cap)
              if used[d] + want > cap then
                -- When enough of the oldest calls leave the window for this one to fit.
                local wait = fits_after(scope, used[d], d, want, cap)
                if wait > worst then worst, worst_scope, worst_reason = wait, s, names[d] end
              end
              -- The band is kept free of lower-priority calls (one larger than the rest of the limit is held by the
              -- limit alone, or it would never fit), and so is what the high-priority calls waiting on the scope will
              -- reserve: a low-priority call woken with them takes no capacity they wait for, whoever reserves first.
              local below_band = cap * (1 - band)
              if band_held and want <= below_band and used[d] + want > below_band - waiting_high[d] then
                local wait = fits_after(scope, used[d], d, want, below_band - waiting_high[d])
                if wait > worst then worst, worst_scope, worst_reason = wait, s, 'priority' end
              end
              local wait = share_wait(scope, mine, is_my_tenant, d, want, cap * tenant_share, tenants_until)
              if wait > worst then worst, worst_scope, worst_reason = wait, s, 'fair_share' end
              wait = share_wait(scope, my_user, is_me, d, want, cap * tenant_share * user_share, users_until)
              if wait > worst then worst, worst_scope, worst_reason = wait, s, 'user_share' end
              -- The others keep at least `reserve` of the limit (used or free), and room for one more call (of this
              -- call's size) beside what they use: a tenant above its share may hold no more than what is left of the
              -- limit beside the larger of the two. The floor alone left a small tenant whose calls in the sliding
              -- window already filled it waiting for the flood's calls to leave.
              local my_used = reserve_mine and reserve_mine[d] or 0
              local allowed = cap - math.max(cap * reserve, used[d] - my_used + want)
              if reserve_part and my_used + want > cap * reserve_part and my_used + want > allowed then
                -- Until enough of its own oldest calls leave the window (holding nothing, it is never held).
                wait = share_wait(scope, reserve_mine, is_my_tenant, d, want, allowed, now + window_ms)
                if wait > worst then worst, worst_scope, worst_reason = wait, s, 'fair_share' end
              end
            end
          end
        end
        local records_wait = high and band > 0 and call_key ~= ''
        if worst > 0 then
          -- The tenant and its user wait on their fair scopes until the retry, and a grace for the call to come back:
          -- the others keep to their shares meanwhile. So does a high-priority call, with what it will reserve.
          for s = 1, n do
            if ARGV[12 + (s - 1) * 6 + 6] == '1' then
              register(KEYS[7*s-1], tenant, ARGV[9], now + worst + grace, worst + grace)
              register(KEYS[7*s], user, ARGV[12], now + worst + grace, worst + grace)
            end
            if records_wait then
              redis.call('HSET', pri_key(s), call_key, string.format('%d:%d:%d:%d', now + worst + grace, need[1], need[3], need[4]))
              extend(pri_key(s), worst + grace)
            end
          end
          return {worst, worst_scope, worst_reason}
        end
        for s = 1, n do
          local log, amt, fly, own = KEYS[7*s-6], KEYS[7*s-5], KEYS[7*s-4], KEYS[7*s-2]
          local base = 12 + (s - 1) * 6
          local fair = ARGV[base + 6] == '1'
          put_call(log, amt, own, lease, need[1], need[3], need[4], fair and user or nil)
          redis.call('PEXPIRE', log, window_ms + ttl)
          redis.call('PEXPIRE', amt, window_ms + ttl)
          if fair then redis.call('PEXPIRE', own, window_ms + ttl) end
          if tonumber(ARGV[base + 5]) >= 0 then
            redis.call('ZADD', fly, now + ttl, lease)
            redis.call('PEXPIRE', fly, ttl)
          end
          if records_wait then redis.call('HDEL', pri_key(s), call_key) end
        end
        return {0, 0, ''}
        """;
}
