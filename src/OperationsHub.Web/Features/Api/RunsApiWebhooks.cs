using System.Globalization;
using System.Security.Claims;
using System.Text.Json.Serialization;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Webhooks;
using OperationsHub.Web.Features.Operations;
using OperationsHub.Web.Features.Webhooks;

namespace OperationsHub.Web.Features.Api;

/// <summary>
/// A webhook to register: a name, an https address (loopback http where the hub allows it), the events
/// (<c>run.queued</c>, <c>run.completed</c>) and, optionally, only some operation types and outcomes.
/// </summary>
public sealed record RegisterWebhookBody(string? Name, string? Url, List<string>? Events, List<string>? Types, List<string>? Outcomes);

public record WebhookResource(
    long Id, string Name, string Url, IReadOnlyList<string> Events, IReadOnlyList<string>? Types, IReadOnlyList<string>? Outcomes,
    string SecretHint, DateTime CreatedAt, WebhookLinks Links);

public sealed record WebhookLinks(string Self, string Deliveries);

/// <summary>A webhook just registered, with its signing secret: shown this once, never again.</summary>
public sealed record CreatedWebhookResource(WebhookResource Webhook, string Secret);

public sealed record WebhookDeliveryResource(
    long Id,
    long RunId,
    string Event,
    [property: JsonConverter(typeof(JsonStringEnumConverter<WebhookDeliveryStatus>))] WebhookDeliveryStatus Status,
    int Attempts,
    int? LastStatusCode,
    string? LastError,
    DateTime CreatedAt,
    DateTime NextAttemptAt,
    DateTime? CompletedAt)
{
    public IReadOnlyList<WebhookAttemptResource>? Tries { get; init; }
}

public sealed record WebhookAttemptResource(DateTime At, int? StatusCode, string? Error, int DurationMs);

internal static partial class RunsApi
{
    private static void MapWebhooks(RouteGroupBuilder tenantApi)
    {
        var hooks = tenantApi.MapGroup("/webhooks").WithTags("Webhooks");
        hooks.MapGet("/", ListWebhooksAsync)
            .WithName("ListWebhooks").WithSummary("The tenant's webhooks (Manager and up).")
            .Produces<List<WebhookResource>>();
        hooks.MapPost("/", RegisterWebhookAsync)
            .WithName("RegisterWebhook").WithSummary("Registers a webhook for run events (Owner); the answer holds its signing secret, once.")
            .WithBodyRefusals()
            .Produces<CreatedWebhookResource>(StatusCodes.Status201Created)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        hooks.MapGet("/{webhookId}", GetWebhookAsync)
            .WithName("GetWebhook").WithSummary("One webhook (Manager and up).")
            .Produces<WebhookResource>();
        hooks.MapDelete("/{webhookId}", DeleteWebhookAsync)
            .WithName("DeleteWebhook").WithSummary("Deletes a webhook with its delivery log (Owner); nothing more is sent to it.")
            .Produces(StatusCodes.Status204NoContent);
        hooks.MapGet("/{webhookId}/deliveries", ListDeliveriesAsync)
            .WithName("ListWebhookDeliveries").WithSummary("The webhook's newest deliveries with their status and last answer (Manager and up).")
            .Produces<List<WebhookDeliveryResource>>()
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        hooks.MapGet("/{webhookId}/deliveries/{deliveryId}", GetDeliveryAsync)
            .WithName("GetWebhookDelivery").WithSummary("One delivery with every try: when, the status code or why there was none, how long.")
            .Produces<WebhookDeliveryResource>();
        hooks.MapPost("/{webhookId}/deliveries/{deliveryId}/resend", ResendDeliveryAsync)
            .WithName("ResendWebhookDelivery").WithSummary("Sends a delivered or failed delivery again, now (Owner).")
            .Produces<WebhookDeliveryResource>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status409Conflict);
    }

    private static async Task<IResult> ListWebhooksAsync(
        string tenantExternalId, ClaimsPrincipal user, WebhookCommands webhooks, CancellationToken cancellationToken)
    {
        var result = await webhooks.ListAsync(user, tenantExternalId, cancellationToken);
        return result.Succeeded
            ? Results.Ok(result.Value!.Select(w => WebhookResourceOf(tenantExternalId, w)).ToList())
            : Refusal(result.Status, result.Message);
    }

    private static async Task<IResult> GetWebhookAsync(
        string tenantExternalId, string webhookId, ClaimsPrincipal user, WebhookCommands webhooks, CancellationToken cancellationToken)
    {
        if (!TryRunNumber(webhookId, out var id))
        {
            return NotFound();
        }

        var result = await webhooks.GetAsync(user, tenantExternalId, id, cancellationToken);
        return result.Succeeded ? Results.Ok(WebhookResourceOf(tenantExternalId, result.Value!)) : Refusal(result.Status, result.Message);
    }

    private static async Task<IResult> RegisterWebhookAsync(
        string tenantExternalId, HttpContext context, WebhookCommands webhooks, CancellationToken cancellationToken)
    {
        var (body, error) = await ReadBodyAsync<RegisterWebhookBody>(context,
            "{\"name\":\"ticketing\",\"url\":\"https://example.com/hooks/opshub\",\"events\":[\"run.completed\"]}", cancellationToken);
        if (error is not null)
        {
            return error;
        }

        var result = await webhooks.RegisterAsync(context.User, tenantExternalId,
            new WebhookRegistration(body?.Name, body?.Url, body?.Events, body?.Types, body?.Outcomes), cancellationToken);
        if (result.Status == CommandStatus.Invalid)
        {
            return Validation(result.Field ?? "request", result.Message ?? "The request is not valid.");
        }

        if (!result.Succeeded)
        {
            return Refusal(result.Status, result.Message);
        }

        var resource = WebhookResourceOf(tenantExternalId, result.Value!.Webhook);
        return Results.Created(resource.Links.Self, new CreatedWebhookResource(resource, result.Value.Secret));
    }

    private static async Task<IResult> DeleteWebhookAsync(
        string tenantExternalId, string webhookId, ClaimsPrincipal user, WebhookCommands webhooks, CancellationToken cancellationToken)
    {
        if (!TryRunNumber(webhookId, out var id))
        {
            return NotFound();
        }

        var result = await webhooks.DeleteAsync(user, tenantExternalId, id, cancellationToken);
        return result.Succeeded ? Results.NoContent() : Refusal(result.Status, result.Message);
    }

    private static async Task<IResult> ListDeliveriesAsync(
        string tenantExternalId, string webhookId, int? limit, ClaimsPrincipal user, WebhookCommands webhooks, CancellationToken cancellationToken)
    {
        if (!TryRunNumber(webhookId, out var id))
        {
            return NotFound();
        }

        if (limit is < 1 or > 200)
        {
            return Validation("limit", "limit is between 1 and 200 (default 50).");
        }

        var result = await webhooks.DeliveriesAsync(user, tenantExternalId, id, limit ?? 50, cancellationToken);
        return result.Succeeded ? Results.Ok(result.Value!.Select(DeliveryResourceOf).ToList()) : Refusal(result.Status, result.Message);
    }

    private static async Task<IResult> GetDeliveryAsync(
        string tenantExternalId, string webhookId, string deliveryId, ClaimsPrincipal user, WebhookCommands webhooks,
        CancellationToken cancellationToken)
    {
        if (!TryRunNumber(webhookId, out var id) || !TryRunNumber(deliveryId, out var delivery))
        {
            return NotFound();
        }

        var result = await webhooks.DeliveryAsync(user, tenantExternalId, id, delivery, cancellationToken);
        return result.Succeeded
            ? Results.Ok(DeliveryResourceOf(result.Value.Delivery) with
            {
                Tries = [.. result.Value.Tries.Select(a => new WebhookAttemptResource(a.At, a.StatusCode, a.Error, a.DurationMs))],
            })
            : Refusal(result.Status, result.Message);
    }

    private static async Task<IResult> ResendDeliveryAsync(
        string tenantExternalId, string webhookId, string deliveryId, ClaimsPrincipal user, WebhookCommands webhooks,
        CancellationToken cancellationToken)
    {
        if (!TryRunNumber(webhookId, out var id) || !TryRunNumber(deliveryId, out var delivery))
        {
            return NotFound();
        }

        var result = await webhooks.ResendAsync(user, tenantExternalId, id, delivery, cancellationToken);
        return result.Succeeded
            ? Results.Accepted($"{WebhookPath(tenantExternalId, id)}/deliveries/{delivery.ToString(CultureInfo.InvariantCulture)}", DeliveryResourceOf(result.Value!))
            : Refusal(result.Status, result.Message);
    }

    private static WebhookResource WebhookResourceOf(string tenant, WebhookRow w) => new(
        w.Id, w.Name, w.Url,
        [.. WebhookEventNames.In(w.Events)],
        w.Types, w.Outcomes?.Select(o => o.ToString()).ToList(), w.SecretHint, w.CreatedAt,
        new WebhookLinks(WebhookPath(tenant, w.Id), WebhookPath(tenant, w.Id) + "/deliveries"));

    private static WebhookDeliveryResource DeliveryResourceOf(WebhookDeliveryRow d) => new(
        d.Id, d.RunId, d.Event, d.Status, d.Attempts, d.LastStatusCode, d.LastError, d.CreatedAt, d.NextAttemptAt, d.CompletedAt);

    private static string WebhookPath(string tenant, long id) =>
        $"/api/t/{Uri.EscapeDataString(tenant)}/webhooks/{id.ToString(CultureInfo.InvariantCulture)}";
}
