using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;

namespace OperationsHub.EndToEnd.Infrastructure;

/// <summary>
/// The real app on a real Kestrel socket (127.0.0.1, a free port) with the demo users, and Debian's Chromium driven by
/// Playwright. One per test class; each test opens its own browser context (its own cookies).
/// </summary>
public class HubServer : IAsyncLifetime
{
    public const string DemoPassword = OperationsHub.Web.Features.Demo.DemoSeed.DemoPassword;

    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("opshub-e2e-");
    private Factory? _factory;
    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public Uri BaseAddress { get; private set; } = null!;

    public IServiceProvider Services => _factory!.Services;

    /// <summary>Where screenshots go; kept after the run for people to look at.</summary>
    public static string ScreenshotDirectory { get; } =
        Path.Combine(AppContext.BaseDirectory, "screenshots");

    protected virtual IDictionary<string, string?> Settings => new Dictionary<string, string?>();

    public async ValueTask InitializeAsync()
    {
        _factory = new Factory(Path.Combine(_directory.FullName, "hub.db"), Settings);
        _factory.UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        _factory.StartServer();
        var address = _factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address);

        _playwright = await Playwright.CreateAsync();
        Browser = await LiveProbes.LaunchChromiumAsync(_playwright);
        Directory.CreateDirectory(ScreenshotDirectory);
    }

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            _directory.Delete(recursive: true);
        }
        catch (IOException)
        {
        }

        GC.SuppressFinalize(this);
    }

    /// <param name="storageState">Cookies of a context that already signed in (from <c>StorageStateAsync</c>), to skip the form.</param>
    /// <param name="timezoneId">The browser's time zone (IANA id); UTC by default, so times read the same on every machine.</param>
    public async Task<IPage> NewPageAsync(string colorScheme = "light", bool bypassCsp = false, string? storageState = null,
        int width = 1280, int height = 800, string timezoneId = "UTC")
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            StorageState = storageState,
            // Only for axe, which injects its script into the page.
            BypassCSP = bypassCsp,
            BaseURL = BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = width, Height = height },
            TimezoneId = timezoneId,
            ColorScheme = colorScheme == "dark" ? ColorScheme.Dark : ColorScheme.Light,
        });
        context.SetDefaultTimeout(15_000);
        return await context.NewPageAsync();
    }

    /// <summary>
    /// Starts a run in contoso as the owner (or, <paramref name="bySystem"/>, as the system: nobody is notified),
    /// through the hub's own start service, and returns its number.
    /// </summary>
    public async Task<long> StartRunAsync(
        string type, string target, Dictionary<string, string> inputs, Dictionary<string, string>? identity = null, bool bySystem = false)
    {
        var runs = Services.GetRequiredService<OperationsHub.Core.Runs.OperationRunService>();
        var dbFactory = Services.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<OperationsHub.Core.Data.HubDbContext>>();
        await using var db = await dbFactory.CreateDbContextAsync();
        var tenant = await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.SingleAsync(db.Tenants, t => t.ExternalId == "contoso");
        var owner = await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.SingleAsync(db.Users, u => u.Email == "owner@contoso.test");
        var result = await runs.StartAsync(new OperationsHub.Core.Runs.StartRunRequest
        {
            TenantId = tenant.Id,
            Type = type,
            Target = target,
            Inputs = inputs,
            IdentityInputs = identity ?? new Dictionary<string, string> { ["test"] = Guid.NewGuid().ToString("N") },
            Initiator = bySystem ? null : new OperationsHub.Core.Runs.RunInitiator(owner.Id, owner.DisplayName),
        });
        return result.Run.Id;
    }

    /// <summary>Signs in through the real form and waits until the landing page's circuit is interactive.</summary>
    /// <summary>A backup of contoso with assignments to unmapped source groups (a restore of it needs unmapped=skip).</summary>
    public async Task<string> NewBackupAsync(int assignments = 3)
    {
        var dbFactory = Services.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<OperationsHub.Core.Data.HubDbContext>>();
        await using var db = await dbFactory.CreateDbContextAsync();
        var tenant = await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.SingleAsync(db.Tenants, t => t.ExternalId == "contoso");
        var backup = new OperationsHub.Core.Domain.PolicyBackup
        {
            TenantId = tenant.Id,
            RunId = -Random.Shared.NextInt64(1, long.MaxValue),
            TakenAt = DateTime.UtcNow,
            PolicyCount = assignments,
            Assignments = [.. Enumerable.Range(1, assignments).Select(i => new OperationsHub.Core.Domain.BackupAssignment
            {
                PolicyId = $"pol-{i}", PolicyName = $"Policy {i}", SourceGroupId = Guid.NewGuid().ToString(), SourceGroupName = $"Old group {i}",
            })],
        };
        db.Backups.Add(backup);
        await db.SaveChangesAsync();
        return backup.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    public static async Task SignInAsync(IPage page, string email, string returnUrl = "/")
    {
        await page.GotoAsync($"/account/login?returnUrl={Uri.EscapeDataString(returnUrl)}");
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", DemoPassword);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForURLAsync(url => !url.Contains("/account/login", StringComparison.Ordinal));
        await WaitForInteractiveAsync(page);
    }

    /// <summary>Blazor renders first on the server; clicks only work once the circuit is up.</summary>
    public static Task WaitForInteractiveAsync(IPage page) =>
        page.Locator(".hub-root[data-interactive='true']").WaitForAsync();

    /// <summary>
    /// Records, in the page, every distinct value <paramref name="attribute"/> of the first element matching
    /// <paramref name="selector"/> takes from now on, in order; read them with <see cref="RecordedAsync"/>. For
    /// states that may pass faster than a test can poll (a short run's "Running"). The element may not exist yet, or be
    /// re-rendered as a new node: the observer watches the whole document.
    /// </summary>
    public static Task RecordAttributeAsync(IPage page, string selector, string attribute, string key) =>
        page.EvaluateAsync("""
            ([selector, attribute, key]) => {
              const seen = (window.__recorded ??= {})[key] = [];
              const note = () => {
                const value = document.querySelector(selector)?.getAttribute(attribute);
                if (value != null && seen[seen.length - 1] !== value) seen.push(value);
              };
              note();
              new MutationObserver(note).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
            }
            """, new[] { selector, attribute, key });

    public static Task<string[]> RecordedAsync(IPage page, string key) =>
        page.EvaluateAsync<string[]>("key => window.__recorded[key]", key);

    public static async Task ScreenshotAsync(IPage page, string name)
    {
        // From the top: a full-page capture of a scrolled page draws the fixed app bar where the viewport was, over
        // the page's title (the dashboard-with-toasts shot showed it after a field scrolled into view).
        await page.EvaluateAsync("() => window.scrollTo(0, 0)");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDirectory, name + ".png"), FullPage = true });
    }

    private sealed class Factory(string databasePath, IDictionary<string, string?> settings) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseSetting("Database:ConnectionString", $"Data Source={databasePath}");
            builder.UseSetting("Demo:Enabled", "true");
            builder.UseSetting("Demo:GenerateRuns", "false");
            // appsettings.json says Information, and configured levels win over SetMinimumLevel: a run's three
            // Information lines, at load-drill rates, would make the console the bottleneck.
            builder.UseSetting("Logging:LogLevel:Default", "Warning");
            // Short enough that a live test watches a whole run, long enough to see it running.
            builder.UseSetting("Worker:ProgressInterval", "00:00:00.250");
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }

            builder.ConfigureLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        }
    }
}
