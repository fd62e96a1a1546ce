using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;

namespace OperationsHub.IntegrationTests;

/// <summary>The README's run command in-process: migrations, the demo seed and the worker, on a real SQLite file.</summary>
public sealed class DemoHostTests : IAsyncLifetime
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("opshub-web-");
    private WebApplicationFactory<Program> _factory = null!;

    public ValueTask InitializeAsync()
    {
        _factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("Database:ConnectionString", $"Data Source={Path.Combine(_directory.FullName, "hub.db")}");
            web.UseSetting("Demo:Enabled", "true");
            web.UseSetting("Demo:RunInterval", "00:00:00.200");
        });
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _factory.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _directory.Delete(recursive: true);
    }

    [Fact]
    public async Task DemoHost_SeedsTenantsAndUsers_AndRunsMoveToCompletion()
    {
        using var client = _factory.CreateClient();
        (await client.GetStringAsync("/healthz", TestContext.Current.CancellationToken)).Should().Be("ok");

        var dbFactory = _factory.Services.GetRequiredService<IDbContextFactory<HubDbContext>>();
        await using (var db = await dbFactory.CreateDbContextAsync(TestContext.Current.CancellationToken))
        {
            (await db.Tenants.Select(t => t.ExternalId).ToListAsync(TestContext.Current.CancellationToken))
                .Should().BeEquivalentTo(["contoso", "fabrikam"]);
            (await db.Users.CountAsync(TestContext.Current.CancellationToken)).Should().Be(6);
            (await db.Memberships.CountAsync(TestContext.Current.CancellationToken)).Should().Be(7);
        }

        var deadline = DateTime.UtcNow.AddSeconds(60);
        int completed;
        bool restored;
        do
        {
            await Task.Delay(250, TestContext.Current.CancellationToken);
            await using var db = await dbFactory.CreateDbContextAsync(TestContext.Current.CancellationToken);
            completed = await db.Runs.CountAsync(r => r.Status == RunStatus.Completed, TestContext.Current.CancellationToken);
            // The demo restores a backup once it has one: the seed takes the first at start-up.
            restored = await db.Runs.AnyAsync(r => r.Type == "restore", TestContext.Current.CancellationToken);
        }
        while ((completed < 2 || !restored) && DateTime.UtcNow < deadline);

        // The seed's first directory sync filled each tenant's cache from the built-in directory, and took a backup.
        await using (var db = await dbFactory.CreateDbContextAsync(TestContext.Current.CancellationToken))
        {
            (await db.DirectoryGroups.GroupBy(g => g.TenantId).Select(g => g.Count()).ToListAsync(TestContext.Current.CancellationToken))
                .Should().Equal(60, 60);
            (await db.Backups.Select(b => b.TenantId).Distinct().CountAsync(TestContext.Current.CancellationToken)).Should().Be(2);
        }

        completed.Should().BeGreaterThanOrEqualTo(2, "the demo keeps runs flowing through the real worker");

        // They are system runs: nobody's bell fills with runs they never started, and each says what it works on
        // the way the dashboard's button would.
        await using var check = await dbFactory.CreateDbContextAsync(TestContext.Current.CancellationToken);
        var runs = await check.Runs.AsNoTracking().ToListAsync(TestContext.Current.CancellationToken);
        runs.Should().OnlyContain(r => r.InitiatorUserId == null && r.InitiatorName == null);
        (await check.Notifications.CountAsync(TestContext.Current.CancellationToken)).Should().Be(0);
        var registry = _factory.Services.GetRequiredService<OperationsHub.Core.Operations.OperationTypeRegistry>();
        runs.Should().OnlyContain(r => r.Target == (r.Type == "restore" ? r.Target : registry.All.Single(t => t.Type == r.Type).DefaultTarget));
        // Restores start once a backup exists (the demo takes one first); each names the backup it restores.
        runs.Where(r => r.Type == "restore").Should().NotBeEmpty().And.AllSatisfy(r => r.Target.Should().StartWith("Backup #"));
    }

    [Fact]
    public async Task Seed_RunTwice_AddsNothingTheSecondTime()
    {
        using var client = _factory.CreateClient();
        await OperationsHub.Web.Features.Demo.DemoSeed.SeedDemoAsync(_factory.Services, TestContext.Current.CancellationToken);

        var dbFactory = _factory.Services.GetRequiredService<IDbContextFactory<HubDbContext>>();
        await using var db = await dbFactory.CreateDbContextAsync(TestContext.Current.CancellationToken);
        (await db.Tenants.CountAsync(TestContext.Current.CancellationToken)).Should().Be(2);
        (await db.Users.CountAsync(TestContext.Current.CancellationToken)).Should().Be(6);
    }

    /// <summary>
    /// The palette is one static stylesheet (no per-circuit style block): light on :root, dark for the dark preference
    /// and for "System" on a device that prefers dark, cacheable, and linked from every page.
    /// </summary>
    [Fact]
    public async Task ThemeCss_CarriesBothPalettes_FromHubTheme_AndAnswersARevalidationWith304()
    {
        var ct = TestContext.Current.CancellationToken;
        using var client = _factory.CreateClient();

        using var response = await client.GetAsync("/theme.css", ct);
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.Should().Be("text/css");
        var css = await response.Content.ReadAsStringAsync(ct);
        // HubTheme: light primary #1f5fbf, dark primary #7fb0ff; MudBlazor's own variables around them.
        var light = css[css.IndexOf(":root{", StringComparison.Ordinal)..css.IndexOf(":root:has(.hub-theme-dark){", StringComparison.Ordinal)];
        light.Should().Contain("--mud-palette-primary: rgba(31,95,191,1);").And.Contain("--mud-native-html-color-scheme: light;");
        var dark = css[css.IndexOf(":root:has(.hub-theme-dark){", StringComparison.Ordinal)..];
        dark.Should().Contain("--mud-palette-primary: rgba(127,176,255,1);").And.Contain("--mud-native-html-color-scheme: dark;");
        css.Should().Contain("@media (prefers-color-scheme: dark){:root:has(.hub-theme-system){");
        css.Should().NotContain("&quot;").And.NotContain("&#x27;", "the CSS is decoded from the rendered style elements");

        var etag = response.Headers.ETag!;
        using var again = new HttpRequestMessage(HttpMethod.Get, "/theme.css");
        again.Headers.IfNoneMatch.Add(etag);
        using var revalidated = await client.SendAsync(again, ct);
        revalidated.StatusCode.Should().Be(HttpStatusCode.NotModified);

        var signIn = await client.GetStringAsync("/account/login", ct);
        signIn.Should().Contain("<link rel=\"stylesheet\" href=\"theme.css\"");
        signIn.Should().NotContain("--mud-palette-primary", "no page carries the palette inline any more");
    }
}
