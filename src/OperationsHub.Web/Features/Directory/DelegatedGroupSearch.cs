using System.Net;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.Identity.Abstractions;
using Microsoft.Identity.Client;
using Microsoft.Identity.Web;
using OperationsHub.Core.ExternalDirectory;
using OperationsHub.Web.Features.Auth;

namespace OperationsHub.Web.Features.Directory;

public enum DelegatedAccess
{
    /// <summary>The signed-in admin has a delegated Graph token: the search is enabled.</summary>
    Available,

    /// <summary>A local sign-in has no Entra identity, so there is no delegated token to have.</summary>
    LocalSignIn,

    /// <summary>Entra sign-in, but no token for the scopes yet (no consent) or one that needs the user again.</summary>
    NeedsConsent,

    /// <summary>The token could not be had for another reason (the identity provider is unreachable, say).</summary>
    Unavailable,
}

/// <summary>Whether the group search can run for this admin, and if not, why (shown beside the disabled search).</summary>
public sealed record DelegatedAccessState(DelegatedAccess Access, string Reason)
{
    public bool Enabled => Access == DelegatedAccess.Available;

    /// <summary>Signing in again with the scopes can help (consent, an expired session with the identity provider).</summary>
    public bool CanReconnect => Access is DelegatedAccess.NeedsConsent or DelegatedAccess.Unavailable;
}

public sealed record GroupSearchResult(IReadOnlyList<DirectoryGroup> Groups, string? NextLink, string? Error = null, DelegatedAccessState? Access = null)
{
    public bool Succeeded => Error is null;
}

/// <summary>
/// The RBAC group search: Microsoft Graph <c>GET /groups?$search="displayName:..."</c> with the signed-in admin's
/// <b>delegated</b> token, only when the admin asks for it. Nothing here runs while a page renders except
/// <see cref="CheckAsync"/>, which asks the token cache (never Graph) whether a delegated token can be had.
/// </summary>
public sealed partial class DelegatedGroupSearch(
    IServiceProvider services,
    IHttpClientFactory httpFactory,
    IOptions<HubAuthenticationOptions> auth,
    IOptions<GraphOptions> graph,
    TimeProvider time,
    ILogger<DelegatedGroupSearch> logger)
{
    public const string HttpClientName = "graph-delegated";
    public const int PageSize = 25;
    public const int MaxTextLength = 120;

    internal const string LocalReason =
        "Group search is off: you signed in with a local hub account, and searching Entra groups uses your own " +
        "Microsoft Entra sign-in (a delegated Microsoft Graph token), which a local account does not have. " +
        "You can still bind a group by typing its object id, or by picking it from the directory cache.";

    internal const string ConsentReason =
        "Group search is off: Microsoft Graph needs your consent, or your sign-in again, before it can search groups " +
        "on your behalf. Connect Microsoft Graph to turn it on.";

    public async Task<DelegatedAccessState> CheckAsync(ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        var (state, _) = await TryGetHeaderAsync(user, cancellationToken);
        return state;
    }

    /// <summary>One page of groups whose display name matches; <paramref name="nextLink"/> continues a search.</summary>
    public async Task<GroupSearchResult> SearchAsync(ClaimsPrincipal user, string text, string? nextLink, CancellationToken cancellationToken)
    {
        var cleaned = Clean(text);
        if (cleaned.Length == 0 && nextLink is null)
        {
            return new GroupSearchResult([], null, "Type part of the group's name to search.");
        }

        var (state, header) = await TryGetHeaderAsync(user, cancellationToken);
        if (header is null)
        {
            return new GroupSearchResult([], null, state.Reason, state);
        }

        var baseUrl = graph.Value.BaseUrl.ToString().TrimEnd('/');
        Uri url;
        if (nextLink is not null)
        {
            if (!GraphJson.TryUnderGraph(nextLink, graph.Value.BaseUrl, out var next))
            {
                return new GroupSearchResult([], null, "That page of results is no longer available; search again.");
            }

            url = next;
        }
        else
        {
            var search = Uri.EscapeDataString($"\"displayName:{cleaned}\"");
            url = new Uri($"{baseUrl}/groups?$search={search}&$select={GraphJson.GroupSelect}&$orderby=displayName&$top={PageSize}&$count=true");
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Authorization = AuthenticationHeaderValue.Parse(header);
        // $search on directory objects is an advanced query: Graph refuses it without this header.
        request.Headers.Add("ConsistencyLevel", "eventual");
        var http = httpFactory.CreateClient(HttpClientName);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException)
        {
            return new GroupSearchResult([], null, "Microsoft Graph could not be reached. Try again in a moment.");
        }

        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable)
            {
                var wait = GraphJson.RetryAfter(response, time);
                return new GroupSearchResult([], null,
                    $"Microsoft Graph is busy (throttled). Try the search again in {Math.Max(1, Math.Ceiling(wait.TotalSeconds))} s.");
            }

            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                var access = new DelegatedAccessState(DelegatedAccess.NeedsConsent,
                    "Microsoft Graph refused the search: your account lacks permission to read groups, or consent is missing.");
                return new GroupSearchResult([], null, access.Reason, access);
            }

            if (!response.IsSuccessStatusCode)
            {
                var (code, _) = GraphJson.ReadError(body);
                return new GroupSearchResult([], null, $"Microsoft Graph could not search ({(int)response.StatusCode}{(code is null ? "" : " " + code)}). Try again.");
            }

            using var doc = JsonDocument.Parse(body);
            var groups = new List<DirectoryGroup>();
            if (doc.RootElement.TryGetProperty("value", out var value) && value.ValueKind == JsonValueKind.Array)
            {
                groups.AddRange(value.EnumerateArray().Select(GraphJson.ReadGroup).Where(g => g.Id.Length is > 0 and <= 64));
            }

            return new GroupSearchResult(groups, GraphJson.String(doc.RootElement, "@odata.nextLink"));
        }
    }

    private async Task<(DelegatedAccessState State, string? Header)> TryGetHeaderAsync(ClaimsPrincipal user, CancellationToken ct)
    {
        if (auth.Value.Mode != AuthenticationMode.EntraId || services.GetService<IAuthorizationHeaderProvider>() is not { } headers)
        {
            return (new DelegatedAccessState(DelegatedAccess.LocalSignIn, LocalReason), null);
        }

        try
        {
            var header = await headers.CreateAuthorizationHeaderForUserAsync(graph.Value.DelegatedScopes, GraphTokens.Options(), user, ct);
            return (new DelegatedAccessState(DelegatedAccess.Available, "Searches Microsoft Graph with your own (delegated) permissions."), header);
        }
        catch (Exception ex) when (ex is MicrosoftIdentityWebChallengeUserException or MsalUiRequiredException)
        {
            return (new DelegatedAccessState(DelegatedAccess.NeedsConsent, ConsentReason), null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The identity provider unreachable, or its settings wrong: the page says the search is off, the log says why.
            LogTokenFailed(logger, ex);
            return (new DelegatedAccessState(DelegatedAccess.Unavailable,
                "Group search is off: a Microsoft Graph token could not be had for you just now. Reconnect, or try again later."), null);
        }
    }

    /// <summary>Graph's $search syntax has quotes and escapes of its own: keep letters, digits, spaces and a few marks.</summary>
    internal static string Clean(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return "";
        }

        var kept = new string(text.Where(c => char.IsLetterOrDigit(c) || c is ' ' or '-' or '_' or '.' or '@' or '&' or '(' or ')').ToArray()).Trim();
        return kept.Length <= MaxTextLength ? kept : kept[..MaxTextLength];
    }

    [LoggerMessage(EventId = 5002, Level = Microsoft.Extensions.Logging.LogLevel.Warning, Message = "A delegated Microsoft Graph token could not be acquired for the group search")]
    private static partial void LogTokenFailed(ILogger logger, Exception exception);
}
