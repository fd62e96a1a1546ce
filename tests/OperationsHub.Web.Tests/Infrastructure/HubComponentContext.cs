using Microsoft.AspNetCore.Components;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using MudBlazor;
using MudBlazor.Services;
using OperationsHub.Core;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Feed;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Samples;
using OperationsHub.Core.Worker;
using OperationsHub.PostgreSql;
using OperationsHub.Sqlite;
using OperationsHub.Testing;
using OperationsHub.Web.Features.Live;
using OperationsHub.Web.Features.Operations;
using OperationsHub.Web.Features.Tenants;

namespace OperationsHub.Web.Tests.Infrastructure;

/// <summary>
/// The one bUnit context for the hub: MudBlazor set up the way its own tests do (loose JS interop, a popover
/// provider, no transitions), a real database behind the queries (a SQLite file unless a test asks for PostgreSQL),
/// an interactive server renderer, and a hand-driven change feed so live updates are deterministic.
/// </summary>
public sealed class HubComponentContext : IAsyncDisposable
{
    private readonly TestDatabase _database;

    public HubComponentContext(TestProvider provider = TestProvider.Sqlite)
    {
        Bunit.JSInterop.Mode = JSRuntimeMode.Loose;
        // A constructor cannot await; creating the database first keeps every test's set-up a plain `new`.
        _database = TestDatabase.CreateAsync(provider).GetAwaiter().GetResult();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>(_database.Settings)
        {
            ["Worker:Enabled"] = "false",
        }).Build();
        var services = Bunit.Services;
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(Logs);
        services.AddMudServices(options =>
        {
            options.SnackbarConfiguration.ShowTransitionDuration = 0;
            options.SnackbarConfiguration.HideTransitionDuration = 0;
        });
        services.AddSingleton<IRunDispatcher, NoDispatch>();
        services.AddOperationsHub(configuration, TestDatabase.Storage);
        services.AddSingleton(GraphRequests);
        OperationsHub.Web.Features.Directory.DirectorySetup.AddHubDirectory(services, configuration);
        // Anything a component sends to Microsoft Graph lands here (and is refused): the tests count it.
        services.AddHttpClient(OperationsHub.Web.Features.Directory.DelegatedGroupSearch.HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(() => GraphRequests);
        services.AddSampleOperations();
        services.Replace(ServiceDescriptor.Singleton<IRunChangeFeed>(Feed));
        services.AddOptions<OperationsHub.Web.Features.Auth.HubAuthenticationOptions>();
        services.AddSingleton<OperationsHub.Web.Features.Auth.HubSessions>();
        services.AddScoped<OperationsHub.Web.Features.Auth.RevalidatingSessionStateProvider>();
        services.AddSingleton<TenantAccess>();
        services.AddSingleton<RunQueries>();
        services.AddSingleton<RunsGridQuery>();
        services.AddSingleton<RunCommands>();
        services.AddSingleton<BulkCommands>();
        services.AddSingleton<RunLogQueries>();
        services.AddSingleton<OperationsHub.Web.Features.ApiTokens.ApiTokenCommands>();
        services.AddSingleton<OperationsHub.Web.Features.Webhooks.WebhookCommands>();
        services.AddScoped<CircuitConnection>();
        services.AddSingleton<OperationsHub.Web.Features.Live.SharedReads>();
        services.AddSingleton<OperationsHub.Web.Features.Notifications.NotificationQueries>();
        services.AddSingleton<OperationsHub.Web.Features.StartSurfaces.OperationCardQueries>();
        Bunit.SetRendererInfo(new RendererInfo("Server", isInteractive: true));
    }

    public BunitContext Bunit { get; } = new();

    /// <summary>Warnings and errors the hub (and EF Core under it) logged during the test.</summary>
    public CapturedLogs Logs { get; } = new();

    /// <summary>Every HTTP request a component sent towards Microsoft Graph.</summary>
    public RecordingHandler GraphRequests { get; } = new();

    public FakeChangeFeed Feed { get; } = new();

    /// <summary>The toasts as a browser shows them: rendered by MudBlazor's own provider, links and all.</summary>
    public IRenderedComponent<MudSnackbarProvider> Toasts { get; private set; } = null!;

    /// <summary>The text of each toast on screen, in order.</summary>
    public IReadOnlyList<string> ToastTexts() =>
        Toasts.FindAll(".mud-snackbar").Select(e => System.Text.RegularExpressions.Regex.Replace(e.TextContent, "\\s+", " ").Trim()).ToList();

    public TenantContext Tenant { get; private set; } = null!;

    public RunInitiator Owner { get; private set; } = null!;

    /// <summary>The owner signed in, with a live server-side session, as the circuit's authentication state holds it.</summary>
    public System.Security.Claims.ClaimsPrincipal OwnerPrincipal { get; private set; } = null!;

    /// <summary>The owner's principal with <paramref name="tenant"/>'s user, sharing the owner's session.</summary>
    public Task<Microsoft.AspNetCore.Components.Authorization.AuthenticationState> AuthenticationStateFor(TenantContext tenant)
    {
        var token = OwnerPrincipal.FindFirst(OperationsHub.Web.Features.Auth.HubClaims.SessionId)!.Value;
        var identity = OperationsHub.Web.Features.Auth.HubClaims.CreateIdentity(tenant.UserId, tenant.UserName, null, token, "Test");
        return Task.FromResult(new Microsoft.AspNetCore.Components.Authorization.AuthenticationState(new System.Security.Claims.ClaimsPrincipal(identity)));
    }

    public async Task InitializeAsync()
    {
        await Bunit.Services.MigrateHubDatabaseAsync();
        await using var db = await DbAsync();
        var tenant = new Tenant { ExternalId = "contoso", Name = "Contoso Ltd" };
        var user = new HubUser { DisplayName = "Olivia Owner", Email = "owner@contoso.test" };
        db.AddRange(tenant, user);
        await db.SaveChangesAsync();
        db.Memberships.Add(new TenantMembership { TenantId = tenant.Id, UserId = user.Id, Role = TenantRole.Owner });
        await db.SaveChangesAsync();
        Tenant = new TenantContext(tenant.Id, tenant.ExternalId, tenant.Name, user.Id, user.DisplayName, TenantRole.Owner);
        Owner = new RunInitiator(user.Id, user.DisplayName);
        var token = await Bunit.Services.GetRequiredService<OperationsHub.Web.Features.Auth.HubSessions>().StartAsync(user.Id, default);
        OwnerPrincipal = new System.Security.Claims.ClaimsPrincipal(
            OperationsHub.Web.Features.Auth.HubClaims.CreateIdentity(user.Id, user.DisplayName, user.Email, token, "Test"));
        Bunit.Services.GetRequiredService<OperationsHub.Web.Features.Auth.RevalidatingSessionStateProvider>().SetAuthenticationState(
            Task.FromResult(new Microsoft.AspNetCore.Components.Authorization.AuthenticationState(OwnerPrincipal)));
        Popovers = Bunit.Render<MudPopoverProvider>();
        Toasts = Bunit.Render<MudSnackbarProvider>();
        Dialogs = Bunit.Render<MudDialogProvider>();
    }

    /// <summary>Where open menus and selects render their lists.</summary>
    public IRenderedComponent<MudPopoverProvider> Popovers { get; private set; } = null!;

    /// <summary>Where dialogs (cancel, bulk) open: find their content here.</summary>
    public IRenderedComponent<MudDialogProvider> Dialogs { get; private set; } = null!;

    /// <summary>The run numbers the grid shows, top to bottom.</summary>
    public static IEnumerable<long> RunIds(IRenderedComponent<RunsView> view) =>
        view.FindAll("tr.hub-run-row a[data-run]").Select(a => long.Parse(a.GetAttribute("data-run")!, System.Globalization.CultureInfo.InvariantCulture));

    public Task<HubDbContext> DbAsync() =>
        Bunit.Services.GetRequiredService<IDbContextFactory<HubDbContext>>().CreateDbContextAsync();

    /// <summary>Creates a run in a given state straight in the database, as the worker would have left it.</summary>
    public async Task<long> CreateRunAsync(
        string type = SampleOperations.InventorySync,
        RunStatus status = RunStatus.Queued,
        RunOutcome outcome = RunOutcome.Pending,
        string? target = "All devices",
        int processed = 0,
        int total = 0,
        string? failuresJson = null,
        string identity = "",
        long? id = null,
        DateTime? createdAt = null)
    {
        await using var db = await DbAsync();
        var now = createdAt ?? DateTime.UtcNow;
        var run = new OperationRun
        {
            Id = id ?? 0,
            TenantId = Tenant.TenantId,
            Type = type,
            Status = status,
            Outcome = outcome,
            RunIdentityHash = identity.Length > 0 ? identity : Guid.NewGuid().ToString("N"),
            Target = target,
            ContextJson = RunJson.SerializeContext(new RunContext(target, new Dictionary<string, string> { ["scope"] = "all" })),
            InitiatorUserId = Owner.UserId,
            InitiatorName = Owner.DisplayName,
            ProcessedCount = processed,
            TotalCount = total,
            FailuresJson = failuresJson,
            CreatedAt = now,
            StartedAt = status == RunStatus.Queued ? null : now,
            CompletedAt = status == RunStatus.Completed ? now : null,
            UpdatedAt = now,
            Version = 1,
        };
        db.Runs.Add(run);
        db.RunEvents.Add(new OperationRunEvent { Run = run, Kind = RunEventKinds.Created, Message = "Queued by Olivia Owner.", At = now });
        await db.SaveChangesAsync();
        return run.Id;
    }

    /// <summary>Deletes a run and its timeline, leaving a gap in the ids a later insert can fill.</summary>
    public async Task DeleteRunAsync(long runId)
    {
        await using var db = await DbAsync();
        await db.RunEvents.Where(e => e.RunId == runId).ExecuteDeleteAsync();
        await db.Notifications.Where(n => n.RunId == runId).ExecuteDeleteAsync();
        await db.Runs.Where(r => r.Id == runId).ExecuteDeleteAsync();
    }

    public async Task UpdateRunAsync(long runId, Action<OperationRun> change)
    {
        await using var db = await DbAsync();
        var run = await db.Runs.SingleAsync(r => r.Id == runId);
        change(run);
        run.Version++;
        await db.SaveChangesAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await Bunit.DisposeAsync();
        await _database.DisposeAsync();
    }

    private sealed class NoDispatch : IRunDispatcher
    {
        public Task DispatchAsync(long runId, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

/// <summary>A change feed the test drives: a push reaches every matching subscriber at once, no throttling.</summary>
public sealed class FakeChangeFeed : IRunChangeFeed
{
    private readonly List<(RunChangeScope Scope, Func<RunChangeBatch, Task> Callback)> _subscribers = [];

    public int SubscriberCount
    {
        get
        {
            lock (_subscribers)
            {
                return _subscribers.Count;
            }
        }
    }

    /// <summary>How many subscriptions listen to exactly <paramref name="scope"/>.</summary>
    public int SubscribersTo(RunChangeScope scope)
    {
        lock (_subscribers)
        {
            return _subscribers.Count(s => s.Scope == scope);
        }
    }

    private long _sequence;

    public long Sequence => Interlocked.Read(ref _sequence);

    public void Publish(RunChanged change) => Interlocked.Increment(ref _sequence);

    public IDisposable Subscribe(RunChangeScope scope, Func<RunChangeBatch, Task> callback)
    {
        var entry = (scope, callback);
        lock (_subscribers)
        {
            _subscribers.Add(entry);
        }

        return new Unsubscriber(() =>
        {
            lock (_subscribers)
            {
                _subscribers.Remove(entry);
            }
        });
    }

    /// <summary>Delivers a signal for a run to the tenant, run and user scopes it belongs to.</summary>
    public async Task PushAsync(RunChanged change)
    {
        Interlocked.Increment(ref _sequence); // as the real feed: the change is counted before anyone hears of it
        List<(RunChangeScope Scope, Func<RunChangeBatch, Task> Callback)> targets;
        lock (_subscribers)
        {
            targets = _subscribers.Where(s =>
                s.Scope == RunChangeScope.ForTenant(change.TenantId)
                || s.Scope == RunChangeScope.ForRun(change.RunId)
                || (change.InitiatorUserId is { } u && s.Scope == RunChangeScope.ForUser(u))).ToList();
        }

        foreach (var (_, callback) in targets)
        {
            await callback(new RunChangeBatch([change], Overflowed: false));
        }
    }

    private sealed class Unsubscriber(Action dispose) : IDisposable
    {
        public void Dispose() => dispose();
    }
}

/// <summary>Records every request and answers 599: nothing rendered here may reach the network.</summary>
public sealed class RecordingHandler : HttpMessageHandler
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<HttpRequestMessage> _requests = new();

    public IReadOnlyCollection<HttpRequestMessage> Requests => _requests;

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        _requests.Enqueue(request);
        return Task.FromResult(new HttpResponseMessage((System.Net.HttpStatusCode)599));
    }
}
