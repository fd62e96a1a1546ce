using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using OperationsHub.IntegrationTests.Infrastructure;

namespace OperationsHub.IntegrationTests.DirectoryFeature;

/// <summary>One request the fake Graph received, as it arrived, and the status it was answered with.</summary>
public sealed record GraphRequest(
    string Method,
    string Path,
    string PathAndQuery,
    IReadOnlyDictionary<string, string> Query,
    string? Authorization,
    string? ConsistencyLevel,
    int Status,
    DateTimeOffset At)
{
    /// <summary>A query parameter as Graph reads it (decoded), or null.</summary>
    public string? Param(string name) => Query.TryGetValue(name, out var value) ? value : null;
}

/// <summary>One page of a scripted answer: the objects of its <c>value</c> array.</summary>
public sealed class GraphPage(params JsonObject[] items)
{
    public IReadOnlyList<JsonObject> Items { get; } = items;
}

/// <summary>
/// Microsoft Graph on loopback, speaking its JSON protocol for the two calls the hub makes: the groups delta query
/// (<c>/v1.0/groups/delta</c>: pages with <c>@odata.nextLink</c> carrying a <c>$skiptoken</c>, a last page with an
/// <c>@odata.deltaLink</c> carrying a <c>$deltatoken</c>, <c>@removed</c> entries) and the advanced group search
/// (<c>/v1.0/groups?$search="displayName:x"</c>, which Graph refuses without <c>ConsistencyLevel: eventual</c>).
/// A test scripts the answers and reads back every request. Anything it did not script is answered 501 with a Graph
/// error body naming the request, so a client that asks for the unexpected fails loudly instead of getting a guess.
/// Graph's links are absolute and point back here, as the real ones point at graph.microsoft.com.
/// </summary>
public sealed class FakeGraph : IAsyncDisposable
{
    public const string DeltaPath = "/v1.0/groups/delta";
    public const string GroupsPath = "/v1.0/groups";

    private readonly Lock _gate = new();
    private readonly List<GraphRequest> _requests = [];
    private readonly Queue<Round> _fullSyncs = new();
    private readonly Dictionary<string, Round> _deltaRounds = new(StringComparer.Ordinal);
    private readonly HashSet<string> _expiredDeltaTokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (Round Round, int Page)> _skipTokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Round> _searches = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, Queue<int>> _throttles = new(StringComparer.Ordinal);
    private readonly WebApplication _app;
    private int _tokens;

    private FakeGraph(WebApplication app, Uri root)
    {
        _app = app;
        Root = root;
    }

    /// <summary>The fake's origin, <c>http://127.0.0.1:port/</c>.</summary>
    public Uri Root { get; }

    /// <summary>What the hub's <c>Graph:BaseUrl</c> is set to: the root plus the version, as Graph's own base URL has.</summary>
    public Uri BaseUrl => new(Root, "v1.0");

    public IReadOnlyList<GraphRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    public int CountRequests(Func<GraphRequest, bool>? where = null)
    {
        lock (_gate)
        {
            return where is null ? _requests.Count : _requests.Count(where);
        }
    }

    public IReadOnlyList<GraphRequest> DeltaRequests => [.. Requests.Where(r => r.Path == DeltaPath)];

    public static async Task<FakeGraph> StartAsync(CancellationToken cancellationToken)
    {
        FakeGraph? graph = null;
        // Assigned once the port is known; no client can reach the fake before it learns the port from here.
        var (app, origin) = await LoopbackServer.StartAsync(context => graph!.HandleAsync(context), cancellationToken);
        graph = new FakeGraph(app, origin);
        return graph;
    }

    /// <summary>
    /// The answer to the next delta query asked without a token (a full sync): these pages, linked by next links,
    /// the last with a delta link. Returns that delta link's token. Each full sync the client starts takes the next
    /// scripted one, so a test scripts one per full read it expects.
    /// </summary>
    public string ScriptFullSync(params GraphPage[] pages)
    {
        var round = NewRound(pages, withDeltaLink: true);
        lock (_gate)
        {
            _fullSyncs.Enqueue(round);
        }

        return round.DeltaToken!;
    }

    /// <summary>The answer to a delta query resumed from <paramref name="deltaToken"/>; returns the new delta link's token.</summary>
    public string ScriptDelta(string deltaToken, params GraphPage[] pages)
    {
        var round = NewRound(pages, withDeltaLink: true);
        lock (_gate)
        {
            _deltaRounds[deltaToken] = round;
        }

        return round.DeltaToken!;
    }

    /// <summary>Graph has forgotten this delta token: asking with it answers 400 <c>syncStateNotFound</c>.</summary>
    public void ExpireDeltaToken(string deltaToken)
    {
        lock (_gate)
        {
            _expiredDeltaTokens.Add(deltaToken);
        }
    }

    /// <summary>The delta link Graph hands out for a token, as the client stores it.</summary>
    public string DeltaLink(string deltaToken) => $"{BaseUrl}/groups/delta?$deltatoken={Uri.EscapeDataString(deltaToken)}";

    /// <summary>The pages <c>$search="displayName:term"</c> answers with, the last without a next link.</summary>
    public void ScriptSearch(string term, params GraphPage[] pages)
    {
        var round = NewRound(pages, withDeltaLink: false, search: term);
        lock (_gate)
        {
            _searches[term] = round;
        }
    }

    /// <summary>The next request to <paramref name="path"/> is answered 429 Too Many Requests with this Retry-After.</summary>
    public void ThrottleNext(string path, int retryAfterSeconds = 1)
    {
        lock (_gate)
        {
            if (!_throttles.TryGetValue(path, out var queue))
            {
                _throttles[path] = queue = new Queue<int>();
            }

            queue.Enqueue(retryAfterSeconds);
        }
    }

    /// <summary>A group as Graph returns it with the hub's <c>$select</c>.</summary>
    public static JsonObject Group(
        string id,
        string displayName,
        string[]? groupTypes = null,
        bool securityEnabled = false,
        bool mailEnabled = false,
        string? mail = null,
        string? description = null) => new()
        {
            ["id"] = id,
            ["displayName"] = displayName,
            ["description"] = description,
            ["groupTypes"] = new JsonArray([.. (groupTypes ?? []).Select(t => JsonValue.Create(t))]),
            ["mailEnabled"] = mailEnabled,
            ["securityEnabled"] = securityEnabled,
            ["mail"] = mail,
        };

    /// <summary>A changed group in a delta page: its id and only the properties that changed, as Graph sends them.</summary>
    public static JsonObject Changed(string id, string? displayName = null, string? description = null)
    {
        var group = new JsonObject { ["id"] = id };
        if (displayName is not null)
        {
            group["displayName"] = displayName;
        }

        if (description is not null)
        {
            group["description"] = description;
        }

        return group;
    }

    /// <summary>A removed group in a delta page: <c>changed</c> (restorable, in the recycle bin) or <c>deleted</c> (for good).</summary>
    public static JsonObject Removed(string id, string reason) => new()
    {
        ["id"] = id,
        ["@removed"] = new JsonObject { ["reason"] = reason },
    };

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private Round NewRound(GraphPage[] pages, bool withDeltaLink, string? search = null)
    {
        if (pages.Length == 0)
        {
            // Graph always answers with a page, if an empty one.
            pages = [new GraphPage()];
        }

        var round = new Round(pages, withDeltaLink ? NextToken("delta") : null, search);
        lock (_gate)
        {
            for (var i = 1; i < pages.Length; i++)
            {
                var skip = NextToken("skip");
                round.SkipTokens.Add(skip);
                _skipTokens[skip] = (round, i);
            }
        }

        return round;
    }

    private string NextToken(string kind) =>
        string.Create(CultureInfo.InvariantCulture, $"{kind}-{Interlocked.Increment(ref _tokens)}");

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var query = request.Query.ToDictionary(p => p.Key, p => p.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var (status, body, retryAfter) = Answer(request, query);
        lock (_gate)
        {
            // Recorded before the answer is written, so a client that has its answer finds its request here.
            _requests.Add(new GraphRequest(
                request.Method,
                request.Path.Value ?? "",
                request.Path.Value + request.QueryString.Value,
                query,
                request.Headers.Authorization.Count == 0 ? null : request.Headers.Authorization.ToString(),
                request.Headers.TryGetValue("ConsistencyLevel", out var consistency) ? consistency.ToString() : null,
                status,
                TimeProvider.System.GetUtcNow()));
        }

        context.Response.StatusCode = status;
        if (retryAfter is { } seconds)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }

        context.Response.ContentType = "application/json; odata.metadata=minimal; charset=utf-8";
        await context.Response.WriteAsync(body.ToJsonString(), context.RequestAborted);
    }

    private (int Status, JsonObject Body, int? RetryAfter) Answer(HttpRequest request, Dictionary<string, string> query)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (!authorization.StartsWith("Bearer ", StringComparison.Ordinal) || authorization.Length <= "Bearer ".Length)
        {
            return (401, Error("InvalidAuthenticationToken", "Access token is empty."), null);
        }

        var path = request.Path.Value ?? "";
        lock (_gate)
        {
            if (_throttles.TryGetValue(path, out var throttles) && throttles.TryDequeue(out var seconds))
            {
                return (429, Error("TooManyRequests", "Too many requests."), seconds);
            }
        }

        if (!HttpMethods.IsGet(request.Method))
        {
            return (405, Error("Request_BadRequest", "Only GET is supported on this resource."), null);
        }

        return path switch
        {
            DeltaPath => AnswerDelta(request, query),
            GroupsPath => AnswerSearch(request, query),
            _ => Unscripted(request),
        };
    }

    private (int, JsonObject, int?) AnswerDelta(HttpRequest request, Dictionary<string, string> query)
    {
        lock (_gate)
        {
            if (query.TryGetValue("$skiptoken", out var skip))
            {
                return _skipTokens.TryGetValue(skip, out var at) ? (200, PageBody(at.Round, at.Page), null) : Unscripted(request);
            }

            if (query.TryGetValue("$deltatoken", out var delta))
            {
                if (_expiredDeltaTokens.Contains(delta))
                {
                    return (400, Error("syncStateNotFound", "The sync state for this delta token was not found; sync again without it."), null);
                }

                return _deltaRounds.TryGetValue(delta, out var round) ? (200, PageBody(round, 0), null) : Unscripted(request);
            }

            return _fullSyncs.TryDequeue(out var full) ? (200, PageBody(full, 0), null) : Unscripted(request);
        }
    }

    private (int, JsonObject, int?) AnswerSearch(HttpRequest request, Dictionary<string, string> query)
    {
        var advanced = query.ContainsKey("$search") || query.ContainsKey("$count");
        if (advanced && !string.Equals(request.Headers["ConsistencyLevel"].ToString(), "eventual", StringComparison.OrdinalIgnoreCase))
        {
            return (400, Error("Request_UnsupportedQuery",
                "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'"), null);
        }

        lock (_gate)
        {
            if (query.TryGetValue("$skiptoken", out var skip))
            {
                return _skipTokens.TryGetValue(skip, out var at) && at.Round.Search is not null
                    ? (200, PageBody(at.Round, at.Page), null)
                    : Unscripted(request);
            }

            // Graph's syntax: the whole clause quoted, property and term separated by a colon.
            if (!query.TryGetValue("$search", out var search) || search.Length < 3 || search[0] != '"' || search[^1] != '"'
                || search[1..^1].Split(':', 2) is not ["displayName", var term])
            {
                return (400, Error("Request_UnsupportedQuery", "Unsupported or invalid search request."), null);
            }

            return _searches.TryGetValue(term, out var round) ? (200, PageBody(round, 0), null) : Unscripted(request);
        }
    }

    private JsonObject PageBody(Round round, int page)
    {
        var body = new JsonObject
        {
            ["@odata.context"] = $"{BaseUrl}/$metadata#groups",
        };
        if (round.Search is not null && page == 0)
        {
            body["@odata.count"] = round.Pages.Sum(p => p.Items.Count);
        }

        var last = page == round.Pages.Count - 1;
        if (!last)
        {
            var skip = Uri.EscapeDataString(round.SkipTokens[page]);
            body["@odata.nextLink"] = round.Search is null
                ? $"{BaseUrl}/groups/delta?$skiptoken={skip}"
                : $"{BaseUrl}/groups?$search={Uri.EscapeDataString($"\"displayName:{round.Search}\"")}&$count=true&$skiptoken={skip}";
        }
        else if (round.DeltaToken is { } delta)
        {
            body["@odata.deltaLink"] = DeltaLink(delta);
        }

        // Nodes have one parent: a page served twice (a repeated request) gets copies.
        body["value"] = new JsonArray([.. round.Pages[page].Items.Select(i => i.DeepClone())]);
        return body;
    }

    private static (int, JsonObject, int?) Unscripted(HttpRequest request) =>
        (501, Error("fakeGraph_unscripted", $"The fake Graph has no answer scripted for {request.Method} {request.Path}{request.QueryString}."), null);

    private static JsonObject Error(string code, string message) => new()
    {
        ["error"] = new JsonObject
        {
            ["code"] = code,
            ["message"] = message,
            ["innerError"] = new JsonObject { ["request-id"] = Guid.NewGuid().ToString() },
        },
    };

    private sealed class Round(IReadOnlyList<GraphPage> pages, string? deltaToken, string? search)
    {
        public IReadOnlyList<GraphPage> Pages { get; } = pages;

        public string? DeltaToken { get; } = deltaToken;

        public string? Search { get; } = search;

        /// <summary>The skip token of the link from page i to page i + 1.</summary>
        public List<string> SkipTokens { get; } = [];
    }
}
