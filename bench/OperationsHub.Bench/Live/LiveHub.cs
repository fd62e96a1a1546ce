using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core;
using OperationsHub.PostgreSql;
using OperationsHub.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Samples;
using OperationsHub.EndToEnd.Infrastructure;
using OperationsHub.Web.Features.Demo;

namespace OperationsHub.Bench.Live;

/// <summary>
/// The real hub on a real Kestrel socket (loopback) with demo users and no worker: the benchmark drives runs through
/// the engine itself, so it knows the moment each change committed. Pages are Debian's Chromium driven by Playwright,
/// each in its own browser context (its own circuit), signed in through the real form once and sharing the cookie.
/// </summary>
internal sealed class LiveHub : IAsyncDisposable
{
    public const string Tenant = "contoso";
    private const string Watcher = "readonly@contoso.test";
    private const string Starter = "operator@contoso.test";

    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("opshub-live-bench-");
    private readonly List<IBrowserContext> _contexts = [];
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, OperationsHub.Core.Storage.RunRow> _claimed = new();
    private Factory? _factory;
    private Microsoft.Extensions.Hosting.IHost? _nodeA;
    private string? _postgresServer;
    private string? _postgresDatabase;
    private IPlaywright? _playwright;
    private IBrowser? _browser;
    private string? _storageState;

    public IServiceProvider Services => _factory!.Services;

    public Uri BaseAddress { get; private set; } = null!;

    public long TenantId { get; private set; }

    public RunInitiator Initiator { get; private set; } = null!;

    /// <summary>Where runs are started and completed: the web host itself, or node A (across nodes).</summary>
    private IServiceProvider Driver => _nodeA?.Services ?? Services;

    internal RunTransitions Transitions => Driver.GetRequiredService<RunTransitions>();

    public OperationRunService Runs => Driver.GetRequiredService<OperationRunService>();

    /// <summary>Whether changes are committed on another node than the one serving the pages.</summary>
    public bool AcrossNodes => _nodeA is not null;

    /// <summary>
    /// The hub on SQLite; or, with <paramref name="postgresServer"/>, two nodes on a fresh PostgreSQL database: the web
    /// host serving the pages (node B) and an engine host of its own (node A: its own data source, change feed and
    /// publisher) through which the benchmark commits, so every change reaches the pages over LISTEN/NOTIFY.
    /// </summary>
    public static async Task<LiveHub> StartAsync(string? postgresServer = null)
    {
        var hub = new LiveHub();
        // Development, as `dotnet run` serves it: static assets (MudBlazor, blazor.web.js) come from the build's
        // manifest rather than a published wwwroot. The content root is the web project's folder, found from here.
        Environment.SetEnvironmentVariable("ASPNETCORE_TEST_CONTENTROOT_OPERATIONSHUB_WEB", WebProjectFolder());
        var database = new Dictionary<string, string?> { ["Database:ConnectionString"] = $"Data Source={Path.Combine(hub._directory.FullName, "hub.db")}" };
        if (postgresServer is not null)
        {
            hub._postgresServer = postgresServer;
            var connectionString = await OperationsHub.Bench.Throughput.PostgreSqlThroughputBenchmark.CreateDatabaseAsync(postgresServer, "opshub_push");
            hub._postgresDatabase = new Npgsql.NpgsqlConnectionStringBuilder(connectionString).Database;
            database = new() { ["Database:Provider"] = "PostgreSql", ["Database:ConnectionString"] = connectionString };
        }

        hub._factory = new Factory(database);
        hub._factory.UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        hub._factory.StartServer();
        hub.BaseAddress = new Uri(hub._factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

        await using (var db = await hub.Services.GetRequiredService<IDbContextFactory<HubDbContext>>().CreateDbContextAsync())
        {
            hub.TenantId = (await db.Tenants.SingleAsync(t => t.ExternalId == Tenant)).Id;
            var starter = await db.Users.SingleAsync(u => u.Email == Starter);
            hub.Initiator = new RunInitiator(starter.Id, starter.DisplayName);
        }

        if (postgresServer is not null)
        {
            var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
            builder.Logging.ClearProviders();
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(database) { ["Worker:Enabled"] = "false" });
            builder.Services.AddOperationsHub(builder.Configuration, storage => storage.AddSqlite().AddPostgreSql());
            builder.Services.AddSampleOperations(); // the types the pages' runs are of, as the web host registers them
            hub._nodeA = builder.Build();
            await hub._nodeA.StartAsync();
        }

        hub._playwright = await Playwright.CreateAsync();
        // Background pages must not be throttled: every page is being watched.
        hub._browser = await LiveProbes.LaunchChromiumAsync(hub._playwright, neverThrottle: true);
        return hub;
    }

    /// <summary>Opens a page (a new context, so a circuit of its own) at <paramref name="path"/> and waits until it is interactive.</summary>
    public async Task<IPage> OpenPageAsync(string path)
    {
        var context = await _browser!.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 1280, Height = 800 },
            StorageState = _storageState,
        });
        context.SetDefaultTimeout(60_000);
        _contexts.Add(context);
        var page = await context.NewPageAsync();
        if (_storageState is null)
        {
            await page.GotoAsync($"/account/login?returnUrl={Uri.EscapeDataString(path)}");
            await page.FillAsync("#email", Watcher);
            await page.FillAsync("#password", DemoSeed.DemoPassword);
            await page.ClickAsync("button[type=submit]");
            await page.WaitForURLAsync(url => !url.Contains("/account/login", StringComparison.Ordinal));
            _storageState = await context.StorageStateAsync();
        }
        else
        {
            await page.GotoAsync(path);
        }

        await page.Locator(".hub-root[data-interactive='true']").WaitForAsync();
        return page;
    }

    /// <summary>
    /// A context and page on about:blank, as <see cref="OpenPageAsync"/> opens them but with no hub behind: what
    /// Playwright's client keeps in this process per page, so the circuit benchmark can take it off the hub's count.
    /// </summary>
    public async Task OpenBlankPageAsync()
    {
        var context = await _browser!.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 1280, Height = 800 },
            StorageState = _storageState,
        });
        _contexts.Add(context);
        var page = await context.NewPageAsync();
        await page.GotoAsync("about:blank");
        await page.EvaluateAsync("() => document.title");
    }

    public async Task CloseAllPagesAsync()
    {
        foreach (var context in _contexts)
        {
            await context.CloseAsync();
        }

        _contexts.Clear();
    }

    /// <summary>A new run, queued and then claimed by a pretend worker: Running, as the grid shows it.</summary>
    public async Task<long> StartRunningAsync(string marker)
    {
        var started = await Runs.StartAsync(new StartRunRequest
        {
            TenantId = TenantId,
            Type = "inventory_sync",
            Initiator = Initiator,
            Target = marker,
            IdentityInputs = new Dictionary<string, string> { ["bench"] = marker },
        });
        var claimed = await Transitions.TryClaimAsync(started.Run.Id, "bench-worker", TimeSpan.FromMinutes(30), CancellationToken.None)
            ?? throw new InvalidOperationException($"Run {started.Run.Id} could not be claimed.");
        _claimed[claimed.RunId] = claimed;
        return claimed.RunId;
    }

    public async Task CompleteAsync(long runId, int processed = 1)
    {
        if (!_claimed.TryRemove(runId, out var claimed))
        {
            throw new InvalidOperationException($"Run {runId} was not started by this benchmark.");
        }

        var done = await Transitions.TryCompleteAsync(claimed, "bench-worker", RunOutcome.Succeeded,
            new RunCounts(processed, processed, processed, 0, 0), [], 0, CancellationToken.None);
        if (done is null)
        {
            throw new InvalidOperationException($"Run {runId} could not be completed.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAllPagesAsync();
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
        if (_nodeA is not null)
        {
            await _nodeA.StopAsync();
            _nodeA.Dispose();
        }

        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }

        if (_postgresDatabase is not null)
        {
            await OperationsHub.Bench.Throughput.PostgreSqlThroughputBenchmark.DropAsync(_postgresServer!, _postgresDatabase);
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            _directory.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string WebProjectFolder()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            var candidate = Path.Combine(folder.FullName, "src", "OperationsHub.Web");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("src/OperationsHub.Web not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Milliseconds since the Unix epoch, the clock the pages' <c>performance.timeOrigin + now()</c> also reads.</summary>
    public static double EpochMs() => (DateTime.UtcNow - DateTime.UnixEpoch).TotalMilliseconds;

    // Any public type of the web assembly names its entry point (the bench has a Program of its own).
    private sealed class Factory(IReadOnlyDictionary<string, string?> database) : WebApplicationFactory<OperationsHub.Web.Features.Api.StartRunBody>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment("Development");
            foreach (var (key, value) in database)
            {
                builder.UseSetting(key, value);
            }

            builder.UseSetting("Demo:Enabled", "true");
            builder.UseSetting("Demo:GenerateRuns", "false");
            builder.UseSetting("Worker:Enabled", "false");
            builder.UseSetting("Logging:LogLevel:Default", "Warning");
            builder.ConfigureLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        }
    }
}
