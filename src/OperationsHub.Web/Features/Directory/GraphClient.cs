using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.Identity.Abstractions;
using OperationsHub.Core.Domain;
using OperationsHub.Core.ExternalDirectory;
using OperationsHub.Core.Operations;

namespace OperationsHub.Web.Features.Directory;

/// <summary>Where directory sync reads groups from.</summary>
public enum DirectorySource
{
    /// <summary>The built-in demo directory: no network, works offline.</summary>
    Builtin,

    /// <summary>Microsoft Graph, with the app registration's app-only token per tenant directory.</summary>
    Graph,
}

public sealed class GraphOptions
{
    public const string SectionName = "Graph";

    /// <summary>Microsoft Graph's root, including the version.</summary>
    public Uri BaseUrl { get; set; } = new("https://graph.microsoft.com/v1.0");

    /// <summary>The scope of the app-only token directory sync asks for (client credentials).</summary>
    public string AppScope { get; set; } = "https://graph.microsoft.com/.default";

    /// <summary>The delegated scopes the group search asks the signed-in admin's consent for.</summary>
    public string[] DelegatedScopes { get; set; } = ["GroupMember.Read.All"];

    /// <summary>Directory sync: <see cref="DirectorySource.Builtin"/> (the default) or <see cref="DirectorySource.Graph"/>.</summary>
    public DirectorySource DirectorySource { get; set; } = DirectorySource.Builtin;

    /// <summary>The longest a sync waits on one 429 / 503 before trying again (Graph's Retry-After, capped).</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How many throttled answers in a row a sync sits out before it fails.</summary>
    public int MaxThrottleRetries { get; set; } = 5;
}

/// <summary>Graph's answer was throttled past what the caller waits for.</summary>
public sealed class GraphThrottledException(TimeSpan retryAfter)
    : Exception($"Microsoft Graph is throttling requests; try again in {Math.Ceiling(retryAfter.TotalSeconds)} s.")
{
    public TimeSpan RetryAfter { get; } = retryAfter;
}

/// <summary>How the hub asks Microsoft.Identity.Web for Graph tokens.</summary>
internal static class GraphTokens
{
    /// <summary>
    /// Names the OpenID Connect scheme's options: token acquisition otherwise takes the default authenticate scheme's
    /// name (the cookie), finds no Entra settings under it, and fails (IDW10503). For app-only tokens, the customer's
    /// directory, when given, is the tenant the token is for.
    /// </summary>
    public static AuthorizationHeaderProviderOptions Options(string? tenant = null) => new()
    {
        AcquireTokenOptions = new AcquireTokenOptions
        {
            AuthenticationOptionsName = Microsoft.AspNetCore.Authentication.OpenIdConnect.OpenIdConnectDefaults.AuthenticationScheme,
            Tenant = tenant,
        },
    };
}

/// <summary>The JSON of Graph's group objects and collection pages, read in one place.</summary>
internal static class GraphJson
{
    public const string GroupSelect = "id,displayName,description,groupTypes,mailEnabled,securityEnabled,mail";

    public static DirectoryGroup ReadGroup(JsonElement e)
    {
        DirectoryGroupKind? kind = null;
        var unified = e.TryGetProperty("groupTypes", out var types) && types.ValueKind == JsonValueKind.Array
            && types.EnumerateArray().Any(t => t.ValueKind == JsonValueKind.String && t.GetString() == "Unified");
        var security = Bool(e, "securityEnabled");
        var mail = Bool(e, "mailEnabled");
        if (unified)
        {
            kind = DirectoryGroupKind.Microsoft365;
        }
        else if (security == true)
        {
            kind = DirectoryGroupKind.Security;
        }
        else if (mail == true)
        {
            kind = DirectoryGroupKind.Distribution;
        }

        return new DirectoryGroup(String(e, "id") ?? "", String(e, "displayName"), String(e, "description"), kind, String(e, "mail"));
    }

    /// <summary>
    /// A link Graph handed back (a next or delta link) is followed only under the configured Graph root: the token a
    /// request carries goes to Microsoft Graph and nowhere else.
    /// </summary>
    public static bool TryUnderGraph(string? link, Uri baseUrl, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Uri? uri) =>
        Uri.TryCreate(link, UriKind.Absolute, out uri)
        && uri.AbsoluteUri.StartsWith(baseUrl.AbsoluteUri.TrimEnd('/') + "/", StringComparison.OrdinalIgnoreCase);

    public static string? String(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool? Bool(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;

    /// <summary>Graph's error code and message from an error body, when it has one.</summary>
    public static (string? Code, string? Message) ReadError(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
            {
                return (String(error, "code"), String(error, "message"));
            }
        }
        catch (JsonException)
        {
        }

        return (null, null);
    }

    /// <summary>How long Graph asks to wait: Retry-After in seconds or as a date; 10 s when it does not say.</summary>
    public static TimeSpan RetryAfter(HttpResponseMessage response, TimeProvider time)
    {
        if (response.Headers.RetryAfter is { } header)
        {
            if (header.Delta is { } delta)
            {
                return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
            }

            if (header.Date is { } date)
            {
                var wait = date - time.GetUtcNow();
                return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
            }
        }

        return TimeSpan.FromSeconds(10);
    }
}

/// <summary>
/// Directory sync against Microsoft Graph: <c>GET /groups/delta</c> with an app-only token for the tenant's directory
/// (client credentials through Microsoft.Identity.Web's <see cref="IAuthorizationHeaderProvider"/>), following next
/// links, sitting out 429 / 503 for as long as Retry-After says (capped), and reporting a lost delta link
/// (400 <c>syncStateNotFound</c>, 410) so the sync starts over in full.
/// </summary>
internal sealed partial class GraphDirectoryClient(
    HttpClient http,
    IAuthorizationHeaderProvider headers,
    IOptions<GraphOptions> options,
    TimeProvider time,
    ILogger<GraphDirectoryClient> logger) : IDirectoryClient
{
    public async Task<DirectoryDeltaPage> GetGroupsDeltaAsync(DirectoryScope scope, string? link, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(scope.DirectoryTenantId))
        {
            throw new OperationFailedException("directory_not_linked",
                "This tenant has no Entra directory id, so there is no directory to sync. Set the tenant's directory id first.");
        }

        var graph = options.Value;
        var url = link is null
            ? new Uri($"{graph.BaseUrl.ToString().TrimEnd('/')}/groups/delta?$select={GraphJson.GroupSelect}")
            : CheckedLink(link, graph.BaseUrl);
        for (var throttled = 0; ; throttled++)
        {
            var header = await headers.CreateAuthorizationHeaderForAppAsync(graph.AppScope, GraphTokens.Options(scope.DirectoryTenantId), cancellationToken);
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.Authorization = AuthenticationHeaderValue.Parse(header);
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable)
            {
                var wait = GraphJson.RetryAfter(response, time);
                if (throttled >= graph.MaxThrottleRetries || wait > graph.MaxRetryAfter)
                {
                    throw new OperationFailedException("graph_throttled",
                        $"Microsoft Graph kept throttling the sync ({(int)response.StatusCode}); it asked to wait {Math.Ceiling(wait.TotalSeconds)} s. Try again later.");
                }

                LogThrottled(logger, scope.TenantId, (int)response.StatusCode, wait.TotalSeconds);
                await Task.Delay(wait, time, cancellationToken);
                continue;
            }

            var (code, message) = GraphJson.ReadError(body);
            if (response.StatusCode == HttpStatusCode.Gone
                || (response.StatusCode == HttpStatusCode.BadRequest && code is "syncStateNotFound" or "resyncRequired"))
            {
                throw new DirectoryDeltaExpiredException($"Microsoft Graph no longer knows the delta link ({code ?? "410 Gone"}).");
            }

            if (!response.IsSuccessStatusCode)
            {
                throw new OperationFailedException("graph_error",
                    $"Microsoft Graph answered {(int)response.StatusCode} {code}: {message ?? response.ReasonPhrase}");
            }

            return ReadPage(body);
        }
    }

    private static DirectoryDeltaPage ReadPage(string body)
    {
        using var doc = JsonDocument.Parse(body);
        var root = doc.RootElement;
        var groups = new List<DirectoryGroup>();
        var removed = new List<DirectoryRemovedGroup>();
        if (root.TryGetProperty("value", out var value) && value.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in value.EnumerateArray())
            {
                var id = GraphJson.String(item, "id");
                if (string.IsNullOrEmpty(id))
                {
                    continue;
                }

                if (item.TryGetProperty("@removed", out var gone))
                {
                    var reason = gone.ValueKind == JsonValueKind.Object ? GraphJson.String(gone, "reason") : null;
                    removed.Add(new DirectoryRemovedGroup(id, reason == "deleted" ? DirectoryRemoval.Deleted : DirectoryRemoval.Changed));
                }
                else
                {
                    groups.Add(GraphJson.ReadGroup(item));
                }
            }
        }

        return new DirectoryDeltaPage(groups, removed, GraphJson.String(root, "@odata.nextLink"), GraphJson.String(root, "@odata.deltaLink"));
    }

    private static Uri CheckedLink(string link, Uri baseUrl) =>
        GraphJson.TryUnderGraph(link, baseUrl, out var uri)
            ? uri
            : throw new DirectoryDeltaExpiredException("The stored delta link does not point at the configured Microsoft Graph.");

    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning,
        Message = "Microsoft Graph throttled directory sync of tenant {TenantId} ({Status}); waiting {Seconds} s as Retry-After asks")]
    private static partial void LogThrottled(ILogger logger, long tenantId, int status, double seconds);
}
