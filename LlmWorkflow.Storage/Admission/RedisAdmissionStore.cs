using System.Globalization;
using LlmWorkflow.Engine.Llm.Admission;
using StackExchange.Redis;

namespace LlmWorkflow.Storage.Admission;

/// <summary>
/// The budgets in Redis, shared by every worker. Each scope keeps a sliding-window log (a sorted set of calls by time,
/// a hash of their requests/input/output tokens), its calls in flight (a sorted set by lease expiry) and a meta hash
/// (blocked-until after a 429, whether steps wait for a slot, the limits the provider last said when lower than the
/// configured ones); a provider's, model's or key's scope also keeps which tenant and user made each call and which
/// tenants, and which users of each, wait on it, with their weights, for the fair shares. Each operation is one Lua script, so a reservation in
/// several scopes (provider and model) is all or nothing. Server time (TIME) keeps workers with skewed clocks
/// consistent. A flushed Redis starts every window empty: the provider's 429s then shrink it again. Hand-written
/// because no .NET package keeps multi-dimension token windows with reserve/reconcile in Redis.
/// </summary>
public sealed class RedisAdmissionStore(IConnectionMultiplexer redis, string keyPrefix) : IAdmissionStore
{
    /// <summary>Published when a call frees a concurrency slot steps wait for (or a provider resumes): the scopes.</summary>
    public RedisChannel ReleasedChannel => RedisChannel.Literal(keyPrefix + "admission:released");

    // Shared Lua: the clock, one scope's window sums (purging what fell out of the window), its caps lowered to what the
    // provider last said its limits are, and an expiry that only ever lengthens (meta holds fields of different lives).
    private const string Common = """
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
          for k = 1, #entries, 2 do
            local r, i, o = amounts(redis.call('HGET', amt, entries[k]))
            used[1] = used[1] + r; used[2] = used[2] + i + o; used[3] = used[3] + i; used[4] = used[4] + o
            list[#list + 1] = {tonumber(entries[k + 1]), r, i + o, i, o, entries[k]}
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

    // KEYS per scope: log, amt, fly, meta, own (lease -> tenant and user), ten (waiting tenants), usr (waiting users);
    // then the pause key. ARGV: window_ms, lease, lease_ttl_ms, need r/i/o, n, tenant, weight, grace_ms, user (escaped),
    // user weight, then per scope caps req, tokens, input, output, concurrent (-1 = unlimited) and fair (1 = a
    // provider's, model's or key's scope, shared by weight). Returns {wait_ms, scope, reason}: wait 0 = reserved, -1 =
    // no known end (full concurrency, paused, zero budget).
    private const string ReserveScript = Common + "\n" + """
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
        local names = {'requests', 'tokens', 'input_tokens', 'output_tokens'}
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
        local function my_tenants_user(other) return (split_owner(other)) == tenant end
        -- How long a caller whose calls in the window are `part` waits to hold `want` more within `allowed` (0: it
        -- may): until enough of its own oldest calls leave the window (all of them, for a call above its share), or
        -- until the others stop waiting, whichever is first. Holding nothing it is never held, so every waiter moves on.
        local function share_wait(part, d, want, allowed, others_until)
          if not part or part.used[d] <= 0 or part.used[d] + want <= allowed then return 0 end
          local freed = 0
          for k = 1, #part.list do
            freed = freed + part.list[k][d + 1]
            if part.used[d] - freed <= 0 or part.used[d] - freed + want <= allowed then
              return math.min(others_until - now + 1, part.list[k][1] + window_ms - now + 1)
            end
          end
          return others_until - now + 1
        end
        -- Records `field` as waiting on a scope until `expiry`; a later registration never shortens an earlier one.
        local function register(hash, field, weight_text, expiry, ms)
          local held = tonumber(string.match(redis.call('HGET', hash, field) or '0:', '^(%d+):'))
          if held < expiry then redis.call('HSET', hash, field, expiry .. ':' .. weight_text) end
          extend(hash, ms)
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
          local used, list = window(log, amt, window_ms, fair and own or nil)
          -- While another tenant waits on the scope this tenant may hold its weight's part of the limit (its weight
          -- over its own and the waiting tenants' weights); while another of its users waits, this user may hold its
          -- weight's part of what the tenant may hold. The window's owners are read only while someone else waits.
          local tenant_share, tenants_until, user_share, users_until = 1, 0, 1, 0
          local mine, my_user = nil, nil
          if fair then
            tenant_share, tenants_until = share_of(waiters(KEYS[7*s-1]), tenant, weight, any_tenant)
            user_share, users_until = share_of(waiters(KEYS[7*s]), user, user_weight, my_tenants_user)
            if tenants_until > 0 or users_until > 0 then
              local tenants, users = by_owner(own, list)
              if tenants_until > 0 then mine = tenants[tenant] end
              if users_until > 0 then my_user = users[user] end
            end
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
              local tenants = by_owner(own, list)
              reserve_part, reserve_mine = weight / (weight + others_weight), tenants[tenant]
            end
          end
          for d = 1, 4 do
            local cap = lowered(tonumber(ARGV[base + d]), said[d])
            if cap == 0 and need[d] > 0 then return {-1, s, 'zero_budget'} end
            if cap > 0 then
              local want = math.min(need[d], cap)
              if used[d] + want > cap then
                -- When enough of the oldest calls leave the window for this one to fit.
                local wait = window_ms
                local freed = 0
                for k = 1, #list do
                  freed = freed + list[k][d + 1]
                  if used[d] - freed + want <= cap then wait = list[k][1] + window_ms - now + 1; break end
                end
                if wait > worst then worst, worst_scope, worst_reason = wait, s, names[d] end
              end
              local wait = share_wait(mine, d, want, cap * tenant_share, tenants_until)
              if wait > worst then worst, worst_scope, worst_reason = wait, s, 'fair_share' end
              wait = share_wait(my_user, d, want, cap * tenant_share * user_share, users_until)
              if wait > worst then worst, worst_scope, worst_reason = wait, s, 'user_share' end
              -- The others keep at least `reserve` of the limit (used or free): a tenant above its share may hold
              -- no more than what is left of the limit beside the larger of that and what the others use.
              local my_used = reserve_mine and reserve_mine.used[d] or 0
              local allowed = cap - math.max(cap * reserve, used[d] - my_used)
              if reserve_part and my_used + want > cap * reserve_part and my_used + want > allowed then
                -- Until enough of its own oldest calls leave the window (holding nothing, it is never held).
                wait = share_wait(reserve_mine, d, want, allowed, now + window_ms)
                if wait > worst then worst, worst_scope, worst_reason = wait, s, 'fair_share' end
              end
            end
          end
        end
        if worst > 0 then
          -- The tenant and its user wait on their fair scopes until the retry, and a grace for the call to come back:
          -- the others keep to their shares meanwhile.
          for s = 1, n do
            if ARGV[12 + (s - 1) * 6 + 6] == '1' then
              register(KEYS[7*s-1], tenant, ARGV[9], now + worst + grace, worst + grace)
              register(KEYS[7*s], user, ARGV[12], now + worst + grace, worst + grace)
            end
          end
          return {worst, worst_scope, worst_reason}
        end
        local value = ARGV[4] .. ':' .. ARGV[5] .. ':' .. ARGV[6]
        for s = 1, n do
          local log, amt, fly, own = KEYS[7*s-6], KEYS[7*s-5], KEYS[7*s-4], KEYS[7*s-2]
          local base = 12 + (s - 1) * 6
          redis.call('ZADD', log, now, lease)
          redis.call('HSET', amt, lease, value)
          redis.call('PEXPIRE', log, window_ms + ttl)
          redis.call('PEXPIRE', amt, window_ms + ttl)
          if ARGV[base + 6] == '1' then
            redis.call('HSET', own, lease, user)
            redis.call('PEXPIRE', own, window_ms + ttl)
          end
          if tonumber(ARGV[base + 5]) >= 0 then
            redis.call('ZADD', fly, now + ttl, lease)
            redis.call('PEXPIRE', fly, ttl)
          end
        end
        return {0, 0, ''}
        """;

    // KEYS per scope: log, amt. ARGV: lease, r, i, o, window_ms, ttl_ms. Stamped now: the provider counted the call no
    // earlier, so it leaves this window no sooner than the provider's.
    private const string ReconcileScript = """
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
    private const string ReleaseScript = """
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
    private const string ShrinkScript = Common + "\n" + """
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
    private const string UsageScript = Common + "\n" + """
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

    public async Task<AdmissionVerdict> ReserveAsync(
        string leaseId, IReadOnlyList<(string Scope, LlmLimit Limit)> scopes, AdmissionAmounts amounts, AdmissionSettings settings, string? provider = null,
        FairShare? fairShare = null)
    {
        var keys = new List<RedisKey>(scopes.Count * 7 + 1);
        var args = new List<RedisValue>
        {
            Ms(settings.Window), leaseId, Ms(settings.LeaseTimeout), amounts.Requests, amounts.InputTokens, amounts.OutputTokens, scopes.Count,
            fairShare?.TenantId ?? "", Number(fairShare?.Weight ?? AdmissionOptions.DefaultWeight), Ms(FairShareGrace(settings)),
            // Escaped, so the owner "tenant<tab>user" splits at its last tab whatever the ids hold.
            Uri.EscapeDataString(fairShare?.UserId ?? ""), Number(fairShare?.UserWeight ?? AdmissionOptions.DefaultWeight),
        };
        foreach (var (scope, limit) in scopes)
        {
            keys.AddRange([Key(scope, "log"), Key(scope, "amt"), Key(scope, "fly"), Key(scope, "meta"), Key(scope, "own"), Key(scope, "ten"), Key(scope, "usr")]);
            // A tenant's own scopes are its alone: shares are of the scopes tenants contend for, providers', models' and keys'.
            var fair = fairShare is not null && !AdmissionOptions.IsTenantScope(scope);
            args.AddRange([Cap(limit.RequestsPerMinute), Cap(limit.TokensPerMinute), Cap(limit.InputTokensPerMinute), Cap(limit.OutputTokensPerMinute), Cap(limit.ConcurrentCalls), fair ? 1 : 0]);
        }

        provider ??= ProviderOf(scopes[0].Scope);
        keys.Add(PauseKey(provider));
        keys.AddRange(scopes.Select(s => Key(s.Scope, "seen")));
        args.AddRange([Number(settings.BurstReserve), Ms(settings.Window * SeenWindows)]);
        var result = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(ReserveScript, [.. keys], [.. args]).ConfigureAwait(false))!;
        var wait = (long)result[0];
        if (wait == 0)
        {
            return AdmissionVerdict.Reserved;
        }

        // A pause is the provider's, whatever scope came first (a tenant's may): its resume wakes the provider's waiters.
        var reason = (string?)result[2];
        return new AdmissionVerdict(wait < 0 ? null : TimeSpan.FromMilliseconds(wait), reason == "paused" ? provider : scopes[(int)result[1] - 1].Scope, reason);
    }

    public async Task ReconcileAsync(string leaseId, IReadOnlyList<string> scopes, AdmissionAmounts used, AdmissionSettings settings)
    {
        RedisKey[] keys = [.. scopes.SelectMany(s => new[] { Key(s, "log"), Key(s, "amt") })];
        await redis.GetDatabase().ScriptEvaluateAsync(ReconcileScript, keys,
            [leaseId, used.Requests, used.InputTokens, used.OutputTokens, Ms(settings.Window), Ms(settings.LeaseTimeout)]).ConfigureAwait(false);
    }

    public async Task<bool> ReleaseAsync(string leaseId, IReadOnlyList<string> scopes)
    {
        RedisKey[] keys = [.. scopes.SelectMany(s => new[] { Key(s, "fly"), Key(s, "meta") })];
        var woke = (long)(await redis.GetDatabase().ScriptEvaluateAsync(ReleaseScript, keys, [leaseId]).ConfigureAwait(false)) == 1;
        if (woke)
        {
            await AnnounceReleasedAsync(scopes, 1).ConfigureAwait(false);
        }

        return woke;
    }

    public async Task ShrinkAsync(IReadOnlyList<(string Scope, LlmLimit Limit)> scopes, RateLimitSnapshot snapshot, TimeSpan? blockedFor, AdmissionSettings settings)
    {
        var keys = new List<RedisKey>(scopes.Count * 4);
        var said = snapshot.Limits;
        var args = new List<RedisValue>
        {
            Ms(settings.Window), blockedFor is { } blocked ? Ms(blocked) : 0,
            snapshot.Requests ?? -1, snapshot.Tokens ?? -1, snapshot.InputTokens ?? -1, snapshot.OutputTokens ?? -1,
            said?.Requests ?? -1, said?.Tokens ?? -1, said?.InputTokens ?? -1, said?.OutputTokens ?? -1, Ms(SaidLimitLifetime), scopes.Count,
        };
        foreach (var (scope, limit) in scopes)
        {
            keys.AddRange([Key(scope, "log"), Key(scope, "amt"), Key(scope, "meta"), Key(scope, "own")]);
            args.AddRange([Cap(limit.RequestsPerMinute), Cap(limit.TokensPerMinute), Cap(limit.InputTokensPerMinute), Cap(limit.OutputTokensPerMinute)]);
        }

        await redis.GetDatabase().ScriptEvaluateAsync(ShrinkScript, [.. keys], [.. args]).ConfigureAwait(false);
    }

    public async Task SetPausedAsync(string provider, bool paused)
    {
        var database = redis.GetDatabase();
        if (paused)
        {
            await database.StringSetAsync(PauseKey(provider), DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture)).ConfigureAwait(false);
            return;
        }

        await database.KeyDeleteAsync(PauseKey(provider)).ConfigureAwait(false);
        await AnnounceReleasedAsync([provider], ResumeWakes).ConfigureAwait(false);
    }

    public async Task<bool> IsPausedAsync(string provider) => await redis.GetDatabase().KeyExistsAsync(PauseKey(provider)).ConfigureAwait(false);

    public async Task<AdmissionUsage> UsageAsync(string scope, AdmissionSettings settings)
    {
        RedisKey[] keys = [Key(scope, "log"), Key(scope, "amt"), Key(scope, "fly"), Key(scope, "meta"), PauseKey(ProviderOf(scope)), Key(scope, "own"), Key(scope, "ten"), Key(scope, "usr")];
        var r = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(UsageScript, keys, [Ms(settings.Window)]).ConfigureAwait(false))!;
        var tenants = new List<TenantWindowUse>();
        for (var k = 10; k + 4 < r.Length;)
        {
            var (tenant, requests, tokens, waiting, userCount) = ((string)r[k]!, (long)r[k + 1], (long)r[k + 2], (long)r[k + 3] == 1, (int)r[k + 4]);
            k += 5;
            var users = new List<UserWindowUse>(userCount);
            for (var u = 0; u < userCount; u++, k += 3)
            {
                users.Add(new UserWindowUse(Uri.UnescapeDataString((string)r[k]!), (long)r[k + 1], (long)r[k + 2]));
            }

            tenants.Add(new TenantWindowUse(tenant, requests, tokens, waiting) { WaitingUsers = [.. users.OrderBy(u => u.UserId, StringComparer.Ordinal)] });
        }

        long? Said(int k) => (long)r[k] > 0 ? (long)r[k] : null;
        return new AdmissionUsage((long)r[0], (long)r[1], (long)r[2], (long)r[3], (long)r[4] == 1, (long)r[5])
        {
            Tenants = [.. tenants.OrderBy(t => t.TenantId, StringComparer.Ordinal)],
            Learned = new RateLimitLimits(Said(6), Said(7), Said(8), Said(9)) is { IsEmpty: false } learned ? learned : null,
        };
    }

    /// <summary>Wakes every step parked on <paramref name="provider"/> (a closed outage breaker, as a resumed provider does).</summary>
    public Task AnnounceResumedAsync(string provider) => AnnounceReleasedAsync([provider], ResumeWakes);

    /// <summary>"&lt;jobs to wake&gt; &lt;scope&gt;…": one freed slot wakes one waiter per worker; a resumed provider wakes many.</summary>
    private Task AnnounceReleasedAsync(IEnumerable<string> scopes, int wake) =>
        redis.GetSubscriber().PublishAsync(ReleasedChannel, $"{wake} {string.Join(' ', scopes)}");

    /// <summary>Parses a <see cref="ReleasedChannel"/> notice; null when it is not one.</summary>
    public static (int Wake, string[] Scopes)? ReadNotice(string? notice) =>
        notice?.Split(' ', StringSplitOptions.RemoveEmptyEntries) is [var count, .. var scopes] && int.TryParse(count, CultureInfo.InvariantCulture, out var wake) && scopes.Length > 0
            ? (wake, scopes)
            : null;

    private const int ResumeWakes = 1000;

    /// <summary>How many windows a tenant that used a fair scope counts as one of its tenants, for the burst reserve.</summary>
    private const int SeenWindows = 5;

    /// <summary>
    /// How long a lowered limit a provider said is kept after the last answer that said it. Every answer with the
    /// header refreshes it or, saying a higher limit a window after the last one that said the lower, raises or ends
    /// it; this only bounds how long it outlives a provider that stopped sending the header.
    /// </summary>
    private static readonly TimeSpan SaidLimitLifetime = TimeSpan.FromHours(1);

    /// <summary>
    /// How long past its retry a deferred tenant still counts as waiting: time for its parked job to be woken and
    /// claimed again, so another tenant does not take the capacity meanwhile. At most the window.
    /// </summary>
    public static TimeSpan FairShareGrace(AdmissionSettings settings) => settings.Window < MaxFairShareGrace ? settings.Window : MaxFairShareGrace;

    private static readonly TimeSpan MaxFairShareGrace = TimeSpan.FromSeconds(3);

    private RedisKey Key(string scope, string part) => $"{keyPrefix}admission:{scope.ToLowerInvariant()}:{part}";

    private RedisKey PauseKey(string provider) => $"{keyPrefix}admission:paused:{provider.ToLowerInvariant()}";

    private static string ProviderOf(string scope) => scope.Split('/', 2)[0];

    private static long Ms(TimeSpan span) => (long)Math.Ceiling(span.TotalMilliseconds);

    private static long Cap(int? limit) => limit ?? -1;

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
