using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Operations;
using OperationsHub.Core.Sanitization;
using OperationsHub.Core.Webhooks;
using OperationsHub.Web.Features.Operations;
using OperationsHub.Web.Features.Tenants;

namespace OperationsHub.Web.Features.Webhooks;

public sealed record WebhookRow(
    long Id, string Name, string Url, WebhookEvents Events, IReadOnlyList<string>? Types, IReadOnlyList<RunOutcome>? Outcomes,
    string SecretHint, DateTime CreatedAt);

public sealed record WebhookDeliveryRow(
    long Id, long EndpointId, long RunId, string Event, WebhookDeliveryStatus Status, int Attempts, int? LastStatusCode,
    string? LastError, DateTime CreatedAt, DateTime NextAttemptAt, DateTime? CompletedAt);

public sealed record WebhookAttemptRow(DateTime At, int? StatusCode, string? Error, int DurationMs);

/// <summary>A webhook just registered: the only moment its signing secret exists outside the hub.</summary>
public sealed record CreatedWebhook(WebhookRow Webhook, string Secret);

/// <summary>What a new webhook hears: its address, the events, and optionally only some types and outcomes.</summary>
public sealed record WebhookRegistration(
    string? Name, string? Url, IReadOnlyCollection<string>? Events, IReadOnlyCollection<string>? Types, IReadOnlyCollection<string>? Outcomes);

/// <summary>
/// A tenant's webhooks: registered, deleted and re-sent by its Owners, read by Managers and up (checked here on every
/// call), each change written to the tenant's audit trail in the same commit.
/// </summary>
public sealed class WebhookCommands(
    TenantAccess access,
    IDbContextFactory<HubDbContext> dbFactory,
    OperationTypeRegistry registry,
    WebhookSecrets secrets,
    WebhookListeners listeners,
    IOptions<WebhookOptions> options,
    TimeProvider time)
{
    public const int MaxPerTenant = 20;
    /// <summary>The outcomes a webhook can filter its "completed" events by (every terminal one).</summary>
    public static readonly IReadOnlyList<RunOutcome> Outcomes = [RunOutcome.Succeeded, RunOutcome.PartiallySucceeded, RunOutcome.Failed, RunOutcome.Cancelled];

    private static readonly System.Linq.Expressions.Expression<Func<WebhookDelivery, WebhookDeliveryRow>> DeliveryRowOf = d =>
        new WebhookDeliveryRow(d.Id, d.EndpointId, d.RunId, d.Event, d.Status, d.Attempts, d.LastStatusCode, d.LastError, d.CreatedAt,
            d.NextAttemptAt, d.CompletedAt);

    public async Task<CommandResult<IReadOnlyList<WebhookRow>>> ListAsync(ClaimsPrincipal user, string tenantExternalId, CancellationToken ct)
    {
        var (refusal, tenant) = await AuthorizeAsync(user, tenantExternalId, manage: false, ct);
        if (refusal is not null)
        {
            return new(refusal.Status, Message: refusal.Message);
        }

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var rows = await db.WebhookEndpoints.AsNoTracking().Where(w => w.TenantId == tenant!.TenantId).OrderBy(w => w.Name).ToListAsync(ct);
        return new(CommandStatus.Ok, [.. rows.Select(RowOf)]);
    }

    public async Task<CommandResult<WebhookRow>> GetAsync(ClaimsPrincipal user, string tenantExternalId, long webhookId, CancellationToken ct)
    {
        var (refusal, tenant) = await AuthorizeAsync(user, tenantExternalId, manage: false, ct);
        if (refusal is not null)
        {
            return new(refusal.Status, Message: refusal.Message);
        }

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var row = await db.WebhookEndpoints.AsNoTracking().SingleOrDefaultAsync(w => w.Id == webhookId && w.TenantId == tenant!.TenantId, ct);
        return row is null ? NoSuchWebhook<WebhookRow>() : new(CommandStatus.Ok, RowOf(row));
    }

    /// <summary>The newest deliveries of one webhook (<paramref name="limit"/> at most), with their state and last answer.</summary>
    public async Task<CommandResult<IReadOnlyList<WebhookDeliveryRow>>> DeliveriesAsync(
        ClaimsPrincipal user, string tenantExternalId, long webhookId, int limit, CancellationToken ct)
    {
        var (refusal, tenant) = await AuthorizeAsync(user, tenantExternalId, manage: false, ct);
        if (refusal is not null)
        {
            return new(refusal.Status, Message: refusal.Message);
        }

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (!await db.WebhookEndpoints.AnyAsync(w => w.Id == webhookId && w.TenantId == tenant!.TenantId, ct))
        {
            return NoSuchWebhook<IReadOnlyList<WebhookDeliveryRow>>();
        }

        var rows = await db.WebhookDeliveries.AsNoTracking()
            .Where(d => d.EndpointId == webhookId)
            .OrderByDescending(d => d.Id)
            .Take(Math.Clamp(limit, 1, 200))
            .Select(DeliveryRowOf)
            .ToListAsync(ct);
        return new(CommandStatus.Ok, rows);
    }

    /// <summary>One delivery of a webhook, with every try, oldest first.</summary>
    public async Task<CommandResult<(WebhookDeliveryRow Delivery, IReadOnlyList<WebhookAttemptRow> Tries)>> DeliveryAsync(
        ClaimsPrincipal user, string tenantExternalId, long webhookId, long deliveryId, CancellationToken ct)
    {
        var (refusal, tenant) = await AuthorizeAsync(user, tenantExternalId, manage: false, ct);
        if (refusal is not null)
        {
            return new(refusal.Status, Message: refusal.Message);
        }

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var delivery = await db.WebhookDeliveries.AsNoTracking()
            .Where(d => d.Id == deliveryId && d.EndpointId == webhookId && d.TenantId == tenant!.TenantId)
            .Select(DeliveryRowOf)
            .SingleOrDefaultAsync(ct);
        if (delivery is null)
        {
            return new(CommandStatus.NotFound, Message: "There is no such delivery of this webhook.");
        }

        var tries = await db.WebhookAttempts.AsNoTracking().Where(a => a.DeliveryId == deliveryId).OrderBy(a => a.Id)
            .Select(a => new WebhookAttemptRow(a.At, a.StatusCode, a.Error, a.DurationMs)).ToListAsync(ct);
        return new(CommandStatus.Ok, (delivery, tries));
    }

    public async Task<CommandResult<CreatedWebhook>> RegisterAsync(
        ClaimsPrincipal user, string tenantExternalId, WebhookRegistration registration, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(registration);
        var (refusal, tenant) = await AuthorizeAsync(user, tenantExternalId, manage: true, ct);
        if (refusal is not null)
        {
            return new(refusal.Status, Message: refusal.Message);
        }

        var name = Sanitizer.SanitizeText(registration.Name?.Trim() ?? "", WebhookEndpoint.MaxNameLength + 1).Trim();
        if (name.Length == 0 || name.Length > WebhookEndpoint.MaxNameLength)
        {
            return Invalid("name", $"Name the webhook after what receives it (1 to {WebhookEndpoint.MaxNameLength} characters), for example \"ticketing\".");
        }

        var url = registration.Url?.Trim();
        if (WebhookAddress.Refusal(url, options.Value) is { } badUrl)
        {
            return Invalid("url", badUrl);
        }

        var events = WebhookEvents.None;
        var eventsHelp = $"Choose the events to send: \"{WebhookEventNames.Queued}\", \"{WebhookEventNames.Completed}\" or both.";
        foreach (var asked in registration.Events ?? [])
        {
            events |= asked switch
            {
                WebhookEventNames.Queued => WebhookEvents.Queued,
                WebhookEventNames.Completed => WebhookEvents.Completed,
                _ => WebhookEvents.None,
            };
            if (asked is not (WebhookEventNames.Queued or WebhookEventNames.Completed))
            {
                return Invalid("events", eventsHelp);
            }
        }

        if (events == WebhookEvents.None)
        {
            return Invalid("events", eventsHelp);
        }

        var types = registration.Types is { Count: > 0 } askedTypes ? askedTypes.Distinct(StringComparer.Ordinal).ToList() : null;
        if (types is not null && types.Any(string.IsNullOrWhiteSpace))
        {
            return Invalid("types", "An operation type is a name such as \"inventory_sync\"; leave the list empty for every type.");
        }

        if (types?.FirstOrDefault(t => !registry.TryGet(t, out _)) is { } unknown)
        {
            return Invalid("types", $"\"{Sanitizer.SanitizeText(unknown, 64)}\" is not an operation type of this hub; leave the list empty for every type.");
        }

        List<RunOutcome>? outcomes = null;
        if (registration.Outcomes is { Count: > 0 } askedOutcomes)
        {
            outcomes = [];
            foreach (var text in askedOutcomes)
            {
                // One outcome per entry, by its name: Enum.TryParse would also take numbers and "A,B" (a flag sum).
                if (text is null || !Enum.TryParse<RunOutcome>(text, ignoreCase: true, out var outcome) || !Outcomes.Contains(outcome)
                    || !Enum.GetNames<RunOutcome>().Contains(text.Trim(), StringComparer.OrdinalIgnoreCase))
                {
                    return Invalid("outcomes", $"Outcomes are {string.Join(", ", Outcomes)}; leave the list empty for every outcome.");
                }

                if (!outcomes.Contains(outcome))
                {
                    outcomes.Add(outcome);
                }
            }
        }

        var now = time.GetUtcNow().UtcDateTime;
        var secret = WebhookSecrets.New();
        var endpoint = new WebhookEndpoint
        {
            TenantId = tenant!.TenantId,
            Name = name,
            Url = url!,
            ProtectedSecret = secrets.Protect(secret),
            SecretHint = WebhookSecrets.HintOf(secret),
            Events = events,
            TypeFilter = types is null ? null : "," + string.Join(",", types) + ",",
            OutcomeFilter = outcomes is null ? null : "," + string.Join(",", outcomes) + ",",
            CreatedByUserId = tenant.UserId,
            CreatedAt = now,
        };
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (await db.WebhookEndpoints.CountAsync(w => w.TenantId == tenant.TenantId, ct) >= MaxPerTenant)
        {
            return new(CommandStatus.Conflict, Message: $"A tenant has at most {MaxPerTenant} webhooks; delete one first.");
        }

        if (await db.WebhookEndpoints.AnyAsync(w => w.TenantId == tenant.TenantId && w.Name == name, ct))
        {
            return NameTaken(name);
        }

        db.WebhookEndpoints.Add(endpoint);
        db.AuditEvents.Add(TenantAudit.Event(tenant, now, AuditActions.WebhookCreated, $"Registered webhook '{name}' to {Sanitizer.SanitizeText(url!, 300)} ({Describe(endpoint)})."));
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            return NameTaken(name); // the unique index on (tenant, name): one of that name was registered at the same moment
        }

        listeners.Registered(tenant.TenantId); // runs of this tenant write outbox rows from now on, on this node at once

        return new(CommandStatus.Ok, new CreatedWebhook(RowOf(endpoint), secret));
    }

    /// <summary>Deletes a webhook with its delivery log; nothing more is sent to it, also of what was still queued.</summary>
    public async Task<CommandResult<bool>> DeleteAsync(ClaimsPrincipal user, string tenantExternalId, long webhookId, CancellationToken ct)
    {
        var (refusal, tenant) = await AuthorizeAsync(user, tenantExternalId, manage: true, ct);
        if (refusal is not null)
        {
            return new(refusal.Status, Message: refusal.Message);
        }

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var endpoint = await db.WebhookEndpoints.SingleOrDefaultAsync(w => w.Id == webhookId && w.TenantId == tenant!.TenantId, ct);
        if (endpoint is null)
        {
            return NoSuchWebhook<bool>();
        }

        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        await db.WebhookAttempts.Where(a => db.WebhookDeliveries.Any(d => d.Id == a.DeliveryId && d.EndpointId == webhookId)).ExecuteDeleteAsync(ct);
        await db.WebhookDeliveries.Where(d => d.EndpointId == webhookId).ExecuteDeleteAsync(ct);
        db.WebhookEndpoints.Remove(endpoint);
        db.AuditEvents.Add(TenantAudit.Event(tenant!, time.GetUtcNow().UtcDateTime, AuditActions.WebhookDeleted, $"Deleted webhook '{endpoint.Name}'."));
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        return new(CommandStatus.Ok, true);
    }

    /// <summary>
    /// Sends a delivered or failed delivery again, now, with a fresh set of tries (its earlier tries stay in its log).
    /// One still pending is on its way already: 409.
    /// </summary>
    public async Task<CommandResult<WebhookDeliveryRow>> ResendAsync(
        ClaimsPrincipal user, string tenantExternalId, long webhookId, long deliveryId, CancellationToken ct)
    {
        var (refusal, tenant) = await AuthorizeAsync(user, tenantExternalId, manage: true, ct);
        if (refusal is not null)
        {
            return new(refusal.Status, Message: refusal.Message);
        }

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var delivery = await db.WebhookDeliveries.SingleOrDefaultAsync(d => d.Id == deliveryId && d.EndpointId == webhookId && d.TenantId == tenant!.TenantId, ct);
        if (delivery is null)
        {
            return new(CommandStatus.NotFound, Message: "There is no such delivery of this webhook.");
        }

        var now = time.GetUtcNow().UtcDateTime;
        var updated = await db.WebhookDeliveries
            .Where(d => d.Id == deliveryId && d.Status != WebhookDeliveryStatus.Pending)
            .ExecuteUpdateAsync(s => s
                .SetProperty(d => d.Status, WebhookDeliveryStatus.Pending)
                .SetProperty(d => d.Attempts, 0)
                .SetProperty(d => d.NextAttemptAt, now)
                .SetProperty(d => d.CompletedAt, (DateTime?)null)
                .SetProperty(d => d.ClaimedBy, (string?)null)
                .SetProperty(d => d.ClaimedUntil, (DateTime?)null), ct);
        if (updated == 0)
        {
            return new(CommandStatus.Conflict, Message: "This delivery is still being sent (or waits for its next try); it cannot be re-sent now.");
        }

        db.AuditEvents.Add(TenantAudit.Event(tenant!, now, AuditActions.WebhookDeliveryResent,
            $"Re-sent delivery #{deliveryId} ({delivery.Event} of run #{delivery.RunId})."));
        await db.SaveChangesAsync(ct);
        return new(CommandStatus.Ok, new WebhookDeliveryRow(delivery.Id, delivery.EndpointId, delivery.RunId, delivery.Event,
            WebhookDeliveryStatus.Pending, 0, delivery.LastStatusCode, delivery.LastError, delivery.CreatedAt, now, null));
    }

    private static WebhookRow RowOf(WebhookEndpoint w) => new(
        w.Id, w.Name, w.Url, w.Events, Split(w.TypeFilter),
        Split(w.OutcomeFilter)?.Select(o => Enum.Parse<RunOutcome>(o)).ToList(), w.SecretHint, w.CreatedAt);

    private static List<string>? Split(string? filter) =>
        filter is null ? null : [.. filter.Split(',', StringSplitOptions.RemoveEmptyEntries)];

    private static string Describe(WebhookEndpoint w)
    {
        var events = string.Join(" and ", WebhookEventNames.In(w.Events));
        var types = w.TypeFilter is null ? "every type" : string.Join(", ", Split(w.TypeFilter)!);
        var outcomes = w.OutcomeFilter is null ? "" : $", outcomes {string.Join(", ", Split(w.OutcomeFilter)!)}";
        return $"{events}; {types}{outcomes}";
    }

    private static CommandResult<T> Invalid<T>(string field, string message) => new(CommandStatus.Invalid, Message: message, Field: field);

    private static CommandResult<CreatedWebhook> Invalid(string field, string message) => Invalid<CreatedWebhook>(field, message);

    private static CommandResult<CreatedWebhook> NameTaken(string name) =>
        Invalid("name", $"This tenant has a webhook named \"{name}\" already; choose another name.");

    private static CommandResult<T> NoSuchWebhook<T>() => new(CommandStatus.NotFound, Message: "There is no such webhook in this tenant.");

    private async Task<(Refusal? Refusal, TenantContext? Tenant)> AuthorizeAsync(
        ClaimsPrincipal user, string tenantExternalId, bool manage, CancellationToken ct)
    {
        var resolved = await access.ResolveAsync(user, tenantExternalId, ct);
        if (resolved.Status != AccessStatus.Allowed)
        {
            return (new Refusal(RunCommands.Map(resolved.Status), RunCommands.Refusal(resolved.Status, "tenant")), null);
        }

        var tenant = resolved.Tenant!;
        if (manage ? TenantPermissions.CanManageWebhooks(tenant.Role) : TenantPermissions.CanViewWebhooks(tenant.Role))
        {
            return (null, tenant);
        }

        return (new Refusal(CommandStatus.Forbidden, manage
            ? $"Only owners register, delete and re-send webhooks of {tenant.Name}; your role is {tenant.Role}."
            : $"Only managers and owners see the webhooks of {tenant.Name}; your role is {tenant.Role}."), null);
    }

    private sealed record Refusal(CommandStatus Status, string Message);
}
