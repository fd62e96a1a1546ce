using System.Globalization;
using System.Security.Claims;
using OperationsHub.Core.Operations;
using OperationsHub.Web.Features.Operations;
using OperationsHub.Web.Features.Tenants;

namespace OperationsHub.Web.Features.Api;

/// <summary>The API's reads: the runs list (the grid's filters, keyset cursor), one run in full, the operation types.</summary>
internal static partial class RunsApi
{
    public const int DefaultListLimit = 25;
    public const int MaxListLimit = 100;

    private static readonly string[] ListKeys = ["status", "outcome", "type", "q", "mine", "range", "cursor", "limit"];

    private static async Task<IResult> ListAsync(
        string tenantExternalId, HttpContext context, TenantAccess access, RunsGridQuery grid, OperationTypeRegistry registry,
        CancellationToken cancellationToken)
    {
        var resolved = await access.ResolveAsync(context.User, tenantExternalId, cancellationToken);
        if (resolved.Status != AccessStatus.Allowed)
        {
            return Refusal(RunCommands.Map(resolved.Status), null);
        }

        var query = context.Request.Query;
        if (query.Keys.FirstOrDefault(k => !ListKeys.Contains(k, StringComparer.Ordinal)) is { } unknown)
        {
            return Validation(unknown, $"\"{unknown}\" is not a filter of this list. Use {string.Join(", ", ListKeys)}.");
        }

        var types = registry.All.Where(t => !t.Internal).Select(t => t.Type).ToHashSet(StringComparer.Ordinal);
        if (FirstInvalid(query, "status", v => v == RunsFilter.StaleKey || RunsFilter.ParseStatus(v) is not null) is { } status)
        {
            return Validation("status", $"Unknown status \"{status}\". Use queued, running, stale or completed (several separated by commas).");
        }

        if (FirstInvalid(query, "outcome", v => RunsFilter.ParseOutcome(v) is not null) is { } outcome)
        {
            return Validation("outcome", $"Unknown outcome \"{outcome}\". Use succeeded, partially_succeeded, failed or cancelled.");
        }

        if (FirstInvalid(query, "type", types.Contains) is { } type)
        {
            return Validation("type", $"Unknown operation type \"{type}\". GET /api/t/{tenantExternalId}/operation-types lists them.");
        }

        var ranges = Enum.GetValues<RunTimeRange>().Select(RunsFilter.RangeKey).ToList();
        if (query.TryGetValue("range", out var range) && !ranges.Contains(range.ToString(), StringComparer.Ordinal))
        {
            return Validation("range", $"Use {string.Join(", ", ranges)}.");
        }

        if (query.TryGetValue("mine", out var mine) && mine.ToString() is not ("true" or "false"))
        {
            return Validation("mine", "Use true (runs started by you, or by this token's creator) or false.");
        }

        if (query.TryGetValue("q", out var q) && q.ToString().Length > RunsFilter.MaxTextLength)
        {
            return Validation("q", $"Search text is at most {RunsFilter.MaxTextLength} characters.");
        }

        var limit = DefaultListLimit;
        if (query.TryGetValue("limit", out var limitText)
            && !(int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) && limit is >= 1 and <= MaxListLimit))
        {
            return Validation("limit", $"A page holds 1 to {MaxListLimit} runs.");
        }

        long? cursor = null;
        if (query.TryGetValue("cursor", out var cursorText))
        {
            if (!TryRunNumber(cursorText.ToString(), out var before))
            {
                return Validation("cursor", "Pass the nextCursor of the page before, as it was given.");
            }

            cursor = before;
        }

        var tenant = resolved.Tenant!;
        var filter = RunsFilter.Parse(context.Request.QueryString.Value ?? "", types);
        var rows = await grid.ReadNewestBeforeAsync(tenant.TenantId, tenant.UserId, filter, cursor, limit + 1, Resource(tenant.ExternalId), cancellationToken);
        // The links repeat the caller's filters as given; only the cursor changes from page to page.
        var filters = query.Where(p => p.Key != "cursor").Select(p => $"{Uri.EscapeDataString(p.Key)}={Uri.EscapeDataString(p.Value.ToString())}");
        string Link(long? after)
        {
            var parts = after is null ? filters : filters.Append($"cursor={after.Value.ToString(CultureInfo.InvariantCulture)}");
            var path = $"/api/t/{Uri.EscapeDataString(tenant.ExternalId)}/operations";
            return parts.Any() ? $"{path}?{string.Join("&", parts)}" : path;
        }

        var next = rows.Count > limit ? rows[limit - 1].Id : (long?)null;
        return Results.Ok(new RunListResource(rows.Take(limit).ToList(), next?.ToString(CultureInfo.InvariantCulture),
            new RunListLinks(Link(cursor), next is null ? null : Link(next))));
    }

    private static async Task<IResult> GetAsync(
        string tenantExternalId, string operationRunId, ClaimsPrincipal user, TenantAccess access, RunQueries queries,
        CancellationToken cancellationToken)
    {
        var resolved = await access.ResolveRunAsync(user, tenantExternalId, operationRunId, cancellationToken);
        if (resolved.Status != AccessStatus.Allowed)
        {
            return Refusal(RunCommands.Map(resolved.Status), null);
        }

        var tenant = resolved.Tenant!;
        var details = await queries.GetDetailsAsync(tenant.TenantId, resolved.RunId, cancellationToken);
        if (details is null)
        {
            return NotFound();
        }

        // The details are one read of the run: its resource comes from them, not from a second read.
        var run = details.Run;
        return Results.Ok(new RunDetailResource(new RunResource(run.Id, run.Type, run.Status, run.Outcome, false, run.CreatedAt,
            run.StartedAt, run.CompletedAt, run.Total, run.Processed, details.Succeeded, details.Failed, details.Skipped,
            LinksOf(tenant.ExternalId, run.Id))
        {
            RetryOf = details.RetryOfRunId,
            Target = details.Context.Target,
            Initiator = run.InitiatorName,
        })
        {
            Inputs = details.Context.Inputs,
            Attempt = details.Attempt,
            CancelRequestedAt = details.CancelRequestedAt,
            FailureTotal = details.FailureTotal,
            Failures = [.. details.Failures.Select(f => new RunFailureResource(f.Code, f.Message, f.Item))],
            Timeline = [.. details.Events.Select(e => new RunEventResource(e.Kind, e.Message, e.At))],
            RetriedAs = [.. details.RetriedAs.Select(r => r.Id)],
            TraceId = details.TraceId,
        });
    }

    private static async Task<IResult> OperationTypesAsync(
        string tenantExternalId, ClaimsPrincipal user, TenantAccess access, OperationTypeRegistry registry, CancellationToken cancellationToken)
    {
        var resolved = await access.ResolveAsync(user, tenantExternalId, cancellationToken);
        if (resolved.Status != AccessStatus.Allowed)
        {
            return Refusal(RunCommands.Map(resolved.Status), null);
        }

        return Results.Ok(registry.All.Where(t => !t.Internal).OrderBy(t => t.Type, StringComparer.Ordinal)
            .Select(t => new OperationTypeResource(t.Type, t.DisplayName, t.Description, t.IdentityInputs, t.DefaultTarget, t.RetrySafe,
                t.RetriesFailedItems))
            .ToList());
    }

    /// <summary>The first value of a comma-separated filter that <paramref name="valid"/> refuses; null when all pass.</summary>
    private static string? FirstInvalid(IQueryCollection query, string key, Func<string, bool> valid) =>
        query.TryGetValue(key, out var values)
            ? values.SelectMany(v => (v ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                .FirstOrDefault(v => !valid(v))
            : null;
}
