using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Web.Features.Operations;
using OperationsHub.Web.Features.Tenants;

namespace OperationsHub.Web.Features.Api;

/// <summary>The start-surface API for other apps: the same run flow, tenancy and role rules as the pages.</summary>
public sealed record StartRunBody(
    string? Type,
    Dictionary<string, string>? IdentityInputs,
    string? Target,
    Dictionary<string, string>? Inputs);

public sealed record RunLinks(string Self, string Page);

/// <summary>The body of a cancel request; a reason is optional. Send <c>{}</c> for none.</summary>
public sealed record CancelRunBody(string? Reason);

/// <summary>The body of a retry request: the whole run, or (where the type supports it) only its failed items.</summary>
public sealed record RetryRunBody(bool? FailedItemsOnly);

/// <summary>
/// A bulk action: <c>action</c> ("cancel" or "retry"), the runs (<c>ids</c>, or <c>filter</c>, a runs-grid query string such
/// as "status=queued&amp;type=inventory_sync"), and <c>expectedCount</c>, the number of runs the caller saw (409 when the
/// selection no longer holds exactly that many).
/// </summary>
public sealed record BulkActionBody(string? Action, List<long>? Ids, string? Filter, int? ExpectedCount, string? Reason);

public record RunResource(
    long Id,
    string Type,
    [property: JsonConverter(typeof(JsonStringEnumConverter<RunStatus>))] RunStatus Status,
    [property: JsonConverter(typeof(JsonStringEnumConverter<RunOutcome>))] RunOutcome Outcome,
    bool Deduped,
    DateTime CreatedAt,
    DateTime? StartedAt,
    DateTime? CompletedAt,
    int Total,
    int Processed,
    int Succeeded,
    int Failed,
    int Skipped,
    RunLinks Links)
{
    /// <summary>The run this one retries, when it is a retry.</summary>
    public long? RetryOf { get; init; }

    /// <summary>What the run works on, as the grid shows it ("All devices", a group's name).</summary>
    public string? Target { get; init; }

    /// <summary>Who started it: a person's name, "API token 'ci-pipeline' of Olivia Owner", or null for the system.</summary>
    public string? Initiator { get; init; }
}

internal static partial class RunsApi
{
    /// <summary>
    /// Friendly HTML status pages are for people; API callers keep the bare status, and every refusal carries problem
    /// details, also those the framework answers before any handler runs (415 for a body that is not JSON, 405, 404 for
    /// a path that is no endpoint).
    /// </summary>
    public static IApplicationBuilder UseApiStatusCodes(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (!context.Request.Path.StartsWithSegments("/api"))
        {
            await next(context);
            return;
        }

        if (context.Features.Get<Microsoft.AspNetCore.Diagnostics.IStatusCodePagesFeature>() is { } pages)
        {
            pages.Enabled = false;
        }

        await next(context);
        var response = context.Response;
        if (response.StatusCode >= 400 && !response.HasStarted && response.ContentLength is null or 0 && string.IsNullOrEmpty(response.ContentType))
        {
            var (title, detail) = response.StatusCode switch
            {
                StatusCodes.Status415UnsupportedMediaType => ("Send the request as JSON.", "Use Content-Type: application/json."),
                StatusCodes.Status405MethodNotAllowed => ("Method not allowed.", $"This path does not take that method; see {ApiDocument.Path}."),
                StatusCodes.Status404NotFound => ("Not found.", $"There is no such API path; see {ApiDocument.Path}."),
                _ => (Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(response.StatusCode), null),
            };
            await ApiTokens.ApiProblems.WriteAsync(context, response.StatusCode, title, detail);
        }
    });

    /// <summary>Start requests are small; anything bigger is refused before it is read.</summary>
    public const long MaxBodyBytes = 32 * 1024;

    /// <summary>Who may call the API: hub API tokens (and Entra ID access tokens in that mode), never the browser's cookie.</summary>
    public const string Policy = "HubApi";

    public static IEndpointRouteBuilder MapRunsApi(this IEndpointRouteBuilder endpoints)
    {
        // Only bearer tokens authenticate here (the policy names their schemes, so the sign-in cookie is not even read):
        // a browser adds its cookie to any request on its own, so a cookie-authenticated API could be driven by another
        // site. With the cookie out, no antiforgery token is needed; an anonymous call gets 401 problem details.
        var tenantApi = endpoints.MapGroup("/api/t/{tenantExternalId}")
            .RequireAuthorization(Policy)
            .DisableAntiforgery()
            .WithTags("Operations")
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            // A database busy past its timeout (or unreachable) answers any of these 503 with Retry-After.
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        tenantApi.MapGet("/operation-types", OperationTypesAsync)
            .WithName("ListOperationTypes").WithSummary("The operation types this tenant can start, with their identity inputs.")
            .Produces<List<OperationTypeResource>>();

        var api = tenantApi.MapGroup("/operations");
        api.MapGet("/", ListAsync)
            .WithName("ListRuns").WithSummary("The tenant's runs, newest first, with the runs grid's filters and a cursor.")
            .Produces<RunListResource>()
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        api.MapPost("/", StartAsync)
            .WithName("StartRun").WithSummary("Starts a run, or returns the queued or running run of the same work (deduped).")
            .Accepts<StartRunBody>("application/json")
            .Produces<RunResource>(StatusCodes.Status202Accepted)
            .Produces<RunResource>()
            .WithBodyRefusals()
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        api.MapPost("/bulk", BulkAsync)
            .WithName("StartBulkAction").WithSummary("Cancels or retries many runs at once, as a run of its own (type bulk_action).")
            .Accepts<BulkActionBody>("application/json")
            .Produces<RunResource>(StatusCodes.Status202Accepted)
            .Produces<RunResource>()
            .WithBodyRefusals()
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        api.MapGet("/{operationRunId}", GetAsync)
            .WithName("GetRun").WithSummary("One run with its counts, failures and timeline.")
            .Produces<RunDetailResource>();
        api.MapPost("/{operationRunId}/cancel", CancelAsync)
            .WithName("CancelRun").WithSummary("Cancels a queued run, or asks a running one to stop.")
            .Accepts<CancelRunBody>("application/json")
            .Produces<RunResource>()
            .WithBodyRefusals()
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        api.MapPost("/{operationRunId}/retry", RetryAsync)
            .WithName("RetryRun").WithSummary("Starts a new run of the same work as a completed run (or of its failed items only).")
            .Accepts<RetryRunBody>("application/json")
            .Produces<RunResource>(StatusCodes.Status202Accepted)
            .Produces<RunResource>()
            .WithBodyRefusals()
            .ProducesProblem(StatusCodes.Status409Conflict);

        MapWebhooks(tenantApi);

        // The whole log of a run as text, for the run page's Download link: a page of the hub (signed-in cookie; a
        // sign-in redirect when anonymous, 403 for another tenant's run), read and written as it streams.
        endpoints.MapGet("/admin/t/{tenantExternalId}/operations/{operationRunId}/log.txt", DownloadLogAsync).RequireAuthorization()
            .ExcludeFromDescription();
        return endpoints;
    }

    /// <summary>What every POST with a JSON body may answer before its handler decides anything (see ReadBodyAsync).</summary>
    private static RouteHandlerBuilder WithBodyRefusals(this RouteHandlerBuilder builder) => builder
        .ProducesProblem(StatusCodes.Status400BadRequest)
        .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
        .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);

    /// <summary>
    /// Reads a JSON body of <typeparamref name="T"/>, or says why not (415 not JSON, 413 too large, 400 malformed).
    /// Every POST here needs a JSON body, even an empty <c>{}</c>.
    /// </summary>
    private static async Task<(T? Body, IResult? Error)> ReadBodyAsync<T>(HttpContext context, string example, CancellationToken cancellationToken)
        where T : class
    {
        if (!context.Request.HasJsonContentType())
        {
            return (null, Problem(StatusCodes.Status415UnsupportedMediaType, "Send the request as JSON.",
                $"Use Content-Type: application/json with a body like {example}."));
        }

        if (context.Request.ContentLength > MaxBodyBytes)
        {
            return (null, TooLarge());
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxBodyBytes;
        }

        try
        {
            return (await context.Request.ReadFromJsonAsync<T>(cancellationToken), null);
        }
        catch (JsonException ex)
        {
            return (null, Problem(StatusCodes.Status400BadRequest, "The request body is not valid JSON.",
                ex.LineNumber is { } line ? $"Check the JSON near line {line + 1}, position {ex.BytePositionInLine + 1}." : "Check the JSON syntax."));
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, TooLarge());
        }
    }

    private static async Task<IResult> StartAsync(
        string tenantExternalId, HttpContext context, RunCommands commands, IDbContextFactory<HubDbContext> dbFactory,
        CancellationToken cancellationToken)
    {
        var (body, error) = await ReadBodyAsync<StartRunBody>(context, "{\"type\":\"inventory_sync\"}", cancellationToken);
        if (error is not null)
        {
            return error;
        }

        if (body is null || string.IsNullOrWhiteSpace(body.Type))
        {
            return Validation("type", "Name the operation type to start, for example \"inventory_sync\".");
        }

        var result = await commands.StartAsync(context.User, tenantExternalId,
            new StartRunInput(body.Type, body.IdentityInputs, body.Target, body.Inputs), cancellationToken);
        switch (result.Status)
        {
            case CommandStatus.Ok:
                // One read of the row, so status, times and counts are one moment's (a deduped run that is running
                // says when it started and how far it got, never "Running" beside a null start).
                await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
                {
                    var resource = await ReadResourceAsync(db, tenantExternalId, result.Value!.Run.Id, result.Value.Deduped, cancellationToken);
                    return result.Value.Deduped
                        ? Results.Ok(resource)
                        : Results.Accepted(resource.Links.Page, resource);
                }

            case CommandStatus.Invalid:
                return Validation(result.Field ?? "request", result.Message ?? "The request is not valid.");
            default:
                return Refusal(result.Status, result.Message);
        }
    }

    private static async Task<IResult> CancelAsync(
        string tenantExternalId, string operationRunId, HttpContext context, RunCommands commands,
        IDbContextFactory<HubDbContext> dbFactory, CancellationToken cancellationToken)
    {
        if (!TryRunNumber(operationRunId, out var runId))
        {
            return NotFound();
        }

        var (body, error) = await ReadBodyAsync<CancelRunBody>(context, "{\"reason\":\"started by mistake\"}", cancellationToken);
        if (error is not null)
        {
            return error;
        }

        var result = await commands.CancelAsync(context.User, tenantExternalId, runId, cancellationToken, body?.Reason);
        return result.Status switch
        {
            CommandStatus.Ok => await ResourceAsync(dbFactory, tenantExternalId, runId, cancellationToken),
            CommandStatus.Invalid => Validation(result.Field ?? "reason", result.Message ?? "The request is not valid."),
            _ => Refusal(result.Status, result.Message),
        };
    }

    private static async Task<IResult> RetryAsync(
        string tenantExternalId, string operationRunId, HttpContext context, RunCommands commands,
        IDbContextFactory<HubDbContext> dbFactory, CancellationToken cancellationToken)
    {
        if (!TryRunNumber(operationRunId, out var runId))
        {
            return NotFound();
        }

        var (body, error) = await ReadBodyAsync<RetryRunBody>(context, "{\"failedItemsOnly\":false}", cancellationToken);
        if (error is not null)
        {
            return error;
        }

        var result = await commands.RetryAsync(context.User, tenantExternalId, runId, body?.FailedItemsOnly == true, cancellationToken);
        return result.Status == CommandStatus.Ok
            ? await StartedAsync(dbFactory, tenantExternalId, result.Value!, cancellationToken)
            : Refusal(result.Status, result.Message);
    }

    private static async Task<IResult> BulkAsync(
        string tenantExternalId, HttpContext context, BulkCommands bulk, OperationsHub.Core.Operations.OperationTypeRegistry registry,
        IDbContextFactory<HubDbContext> dbFactory, CancellationToken cancellationToken)
    {
        var (body, error) = await ReadBodyAsync<BulkActionBody>(context,
            "{\"action\":\"cancel\",\"filter\":\"status=queued\",\"expectedCount\":12}", cancellationToken);
        if (error is not null)
        {
            return error;
        }

        if (body is null || !OperationsHub.Core.Runs.BulkActions.TryParse(body.Action, out var action))
        {
            return Validation("action", "Name the action: \"cancel\" or \"retry\".");
        }

        if (body.ExpectedCount is not { } expected || expected < 0)
        {
            return Validation("expectedCount", "Say how many runs you expect the action to cover (the count you were shown).");
        }

        var selection = body switch
        {
            { Ids: not null, Filter: not null } => null,
            { Ids: { } ids } => BulkSelection.Of(ids),
            { Filter: { } filter } => BulkSelection.Matching(RunsFilter.Parse(filter.TrimStart('?'), registry.All.Select(t => t.Type).ToHashSet(StringComparer.Ordinal))),
            _ => null,
        };
        if (selection is null)
        {
            return Validation("selection", "Name the runs: either \"ids\" (run numbers) or \"filter\" (a runs-grid query string), not both.");
        }

        var result = await bulk.StartAsync(context.User, tenantExternalId, action, selection, expected, body.Reason, cancellationToken);
        return result.Status switch
        {
            CommandStatus.Ok => await StartedAsync(dbFactory, tenantExternalId, result.Value!, cancellationToken),
            CommandStatus.Invalid => Validation(result.Field ?? "selection", result.Message ?? "The request is not valid."),
            _ => Refusal(result.Status, result.Message),
        };
    }

    private static async Task<IResult> DownloadLogAsync(
        string tenantExternalId, string operationRunId, HttpContext context, TenantAccess access, RunLogQueries logs,
        CancellationToken cancellationToken)
    {
        var resolved = await access.ResolveRunAsync(context.User, tenantExternalId, operationRunId, cancellationToken);
        switch (resolved.Status)
        {
            case AccessStatus.Allowed:
                break;
            case AccessStatus.NotFound:
                return Results.Text("There is no such run.", "text/plain", statusCode: StatusCodes.Status404NotFound);
            case AccessStatus.Unauthenticated:
                return Results.Challenge();
            default:
                // Said here, not by the cookie handler's Forbid (a redirect to a page): a download gets a plain 403.
                return Results.Text("You do not have access to this run.", "text/plain", statusCode: StatusCodes.Status403Forbidden);
        }

        var tenant = resolved.Tenant!;
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers.ContentDisposition =
            $"attachment; filename=\"run-{resolved.RunId.ToString(CultureInfo.InvariantCulture)}-log.txt\"";
        context.Response.Headers.CacheControl = "no-store";
        await logs.WriteTextAsync(tenant.TenantId, resolved.RunId, context.Response.Body, cancellationToken);
        return Results.Empty;
    }

    /// <summary>A run a request started (a retry, a bulk action): 202 with its resource when new, 200 when deduped.</summary>
    private static async Task<IResult> StartedAsync(
        IDbContextFactory<HubDbContext> dbFactory, string tenant, Core.Runs.StartRunResult started, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var resource = await ReadResourceAsync(db, tenant, started.Run.Id, started.Deduped, cancellationToken);
        return started.Deduped ? Results.Ok(resource) : Results.Accepted(resource.Links.Page, resource);
    }

    private static async Task<IResult> ResourceAsync(
        IDbContextFactory<HubDbContext> dbFactory, string tenant, long runId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return Results.Ok(await ReadResourceAsync(db, tenant, runId, deduped: false, cancellationToken));
    }

    private static bool TryRunNumber(string text, out long runId) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out runId) && runId > 0;

    private static IResult NotFound() => Refusal(CommandStatus.NotFound, null);

    private static async Task<RunResource> ReadResourceAsync(
        HubDbContext db, string tenant, long runId, bool deduped, CancellationToken cancellationToken)
    {
        var run = await db.Runs.AsNoTracking().Where(r => r.Id == runId).Select(Resource(tenant)).SingleAsync(cancellationToken);
        return deduped ? run with { Deduped = true } : run;
    }

    /// <summary>A run as the API shows it, read in one projection (so status, times and counts are one moment's).</summary>
    private static System.Linq.Expressions.Expression<Func<OperationRun, RunResource>> Resource(string tenant) =>
        r => new RunResource(r.Id, r.Type, r.Status, r.Outcome, false, r.CreatedAt, r.StartedAt, r.CompletedAt,
            r.TotalCount, r.ProcessedCount, r.SucceededCount, r.FailedCount, r.SkippedCount, LinksOf(tenant, r.Id))
        {
            RetryOf = r.RetryOfRunId,
            Target = r.Target,
            Initiator = r.InitiatorName,
        };

    /// <summary>A run's two addresses: its API resource and its page.</summary>
    private static RunLinks LinksOf(string tenant, long runId) =>
        new($"/api/t/{Uri.EscapeDataString(tenant)}/operations/{runId.ToString(CultureInfo.InvariantCulture)}", HubLinks.Run(tenant, runId));

    private static IResult Refusal(CommandStatus status, string? message) => status switch
    {
        CommandStatus.Unauthenticated => new Challenge(Problem(StatusCodes.Status401Unauthorized, "An API token is required.",
            ApiTokens.ApiTokenClaims.HowToAuthenticate)),
        CommandStatus.NotFound => Problem(StatusCodes.Status404NotFound, "Not found.", "The tenant or run does not exist."),
        CommandStatus.Conflict => Problem(StatusCodes.Status409Conflict, "Conflict.", message),
        CommandStatus.Unavailable => new RetryAfter(
            Problem(StatusCodes.Status503ServiceUnavailable, Security.TransientFailures.BusyTitle, message),
            Security.TransientFailures.RetryAfterSeconds),
        _ => Problem(StatusCodes.Status403Forbidden, "Forbidden.", message ?? "You do not have access to this tenant or run."),
    };

    /// <summary>A 401 with its WWW-Authenticate header, as the authentication handler's own 401 has.</summary>
    private sealed record Challenge(IResult Inner) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.WWWAuthenticate = ApiTokens.ApiTokenClaims.Challenge;
            return Inner.ExecuteAsync(httpContext);
        }
    }

    /// <summary>A result with a Retry-After header: a busy database is a passing condition.</summary>
    private sealed record RetryAfter(IResult Inner, int Seconds) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = Seconds.ToString(CultureInfo.InvariantCulture);
            return Inner.ExecuteAsync(httpContext);
        }
    }

    private static IResult TooLarge() => Problem(StatusCodes.Status413PayloadTooLarge, "The request body is too large.",
        $"A start request may be at most {MaxBodyBytes / 1024} KB.");

    private static IResult Validation(string field, string message) =>
        Results.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }, title: "The request is not valid.",
            statusCode: StatusCodes.Status422UnprocessableEntity);

    private static IResult Problem(int status, string title, string? detail) =>
        Results.Problem(title: title, detail: detail, statusCode: status);
}
