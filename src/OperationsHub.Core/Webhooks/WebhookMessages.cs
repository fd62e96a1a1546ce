using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.DataProtection;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Runs;

namespace OperationsHub.Core.Webhooks;

/// <summary>The events' names on the wire and in the delivery log.</summary>
public static class WebhookEventNames
{
    public const string Queued = "run.queued";
    public const string Completed = "run.completed";

    /// <summary>The names of the events in <paramref name="set"/>, queued first.</summary>
    public static IEnumerable<string> In(WebhookEvents set) =>
        new[] { WebhookEvents.Queued, WebhookEvents.Completed }.Where(e => set.HasFlag(e)).Select(Of);

    public static string Of(WebhookEvents single) => single switch
    {
        WebhookEvents.Queued => Queued,
        WebhookEvents.Completed => Completed,
        _ => throw new ArgumentOutOfRangeException(nameof(single), single, "One event, not a set."),
    };
}

/// <summary>
/// What a delivery sends. The outbox row keeps the run as the event saw it (<see cref="Snapshot"/>); the body adds
/// the delivery's id, the event, the tenant and links, and is the same on every try. Nothing secret is in it: ids,
/// status, outcome, counts, times, links.
/// </summary>
public static class WebhookPayloads
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static string Snapshot(string type, RunStatus status, RunOutcome outcome, RunCounts counts, DateTime createdAt,
        DateTime? startedAt, DateTime? completedAt) =>
        JsonSerializer.Serialize(new
        {
            type,
            status = status.ToString(),
            outcome = outcome.ToString(),
            total = counts.Total,
            processed = counts.Processed,
            succeeded = counts.Succeeded,
            failed = counts.Failed,
            skipped = counts.Skipped,
            createdAt,
            startedAt,
            completedAt,
        }, Json);

    /// <summary>The request body for <paramref name="delivery"/> of a run of tenant <paramref name="tenant"/> (its external id).</summary>
    public static string Body(WebhookDelivery delivery, string tenant, Uri? publicBaseUrl)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        var run = JsonNode.Parse(delivery.PayloadJson) as JsonObject ?? [];
        var id = delivery.RunId.ToString(CultureInfo.InvariantCulture);
        var tenantPath = Uri.EscapeDataString(tenant);
        var root = publicBaseUrl is null ? "" : publicBaseUrl.AbsoluteUri.TrimEnd('/');
        var withId = new JsonObject { ["id"] = delivery.RunId };
        foreach (var (key, value) in run)
        {
            withId[key] = value?.DeepClone();
        }

        withId["links"] = new JsonObject
        {
            ["self"] = $"{root}/api/t/{tenantPath}/operations/{id}",
            ["page"] = $"{root}/admin/t/{tenantPath}/operations/{id}",
        };
        var body = new JsonObject
        {
            ["id"] = delivery.Id,
            ["event"] = delivery.Event,
            ["occurredAt"] = delivery.CreatedAt,
            ["tenant"] = tenant,
            ["run"] = withId,
        };
        return body.ToJsonString(Json);
    }
}

/// <summary>
/// The signature header: <c>t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256 of "t.body" with the endpoint's secret&gt;</c>.
/// A receiver recomputes it over the raw body and rejects an old <c>t</c> (a replay).
/// </summary>
public static class WebhookSignature
{
    public const string Header = "X-OperationsHub-Signature";
    public const string DeliveryHeader = "X-OperationsHub-Delivery";
    public const string EventHeader = "X-OperationsHub-Event";

    public static string Sign(string secret, long unixSeconds, string body)
    {
        ArgumentNullException.ThrowIfNull(secret);
        var t = unixSeconds.ToString(CultureInfo.InvariantCulture);
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(t + "." + body));
        return $"t={t},v1={Convert.ToHexStringLower(mac)}";
    }
}

/// <summary>Endpoint secrets: made here, shown once, kept protected by the Data Protection key ring (in the database).</summary>
public sealed class WebhookSecrets(IDataProtectionProvider protection)
{
    public const string Prefix = "whsec_";
    private readonly IDataProtector _protector = protection.CreateProtector("OperationsHub.Webhooks.Secret.v1");

    public static string New() => Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    public static string HintOf(string secret) => secret[..Math.Min(secret.Length, Prefix.Length + 4)];

    public string Protect(string secret) => _protector.Protect(secret);

    public string Unprotect(string protectedSecret) => _protector.Unprotect(protectedSecret);

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
