using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OperationsHub.Core;
using OperationsHub.Core.Data;
using OperationsHub.PostgreSql;
using OperationsHub.Sqlite;
using OperationsHub.Testing;
using OperationsHub.Core.Domain;
using OperationsHub.Web.Features.Auth;

namespace OperationsHub.IntegrationTests.Infrastructure;

/// <summary>
/// The real app on a real database of its own: a SQLite file, or a fresh PostgreSQL database for the tests that run
/// on both. A test authentication handler stands in for the identity provider: a request carrying
/// <see cref="TestAuthHandler.UserHeader"/> is signed in as that hub user; a request without it is anonymous and
/// meets the real cookie challenge (302 to the sign-in page).
/// </summary>
public class HubAppFactory : WebApplicationFactory<Program>
{
    private readonly TestDatabase _database;

    public HubAppFactory(TestProvider provider = TestProvider.Sqlite)
    {
        // A constructor cannot await; the database exists before the host is built from ConfigureWebHost.
        _database = TestDatabase.CreateAsync(provider).GetAwaiter().GetResult();
    }

    public TestWorld World { get; } = new();

    /// <summary>The app's database connection string, for tests that act on the server itself.</summary>
    public string DatabaseConnectionString => _database.ConnectionString;

    /// <summary>The app's SQLite file, for drills that open a connection of their own (another process's writer).</summary>
    public string DatabasePath => _database.SqlitePath;

    /// <summary>Extra settings a derived factory adds (Entra ID mode, demo data).</summary>
    protected virtual IDictionary<string, string?> Settings => new Dictionary<string, string?>();

    /// <summary>Whether the test authentication handler replaces the real sign-in for authenticate calls.</summary>
    protected virtual bool UseTestAuthentication => true;

    /// <summary>
    /// Serve through a real Kestrel socket on loopback instead of the in-memory test server, for requests the
    /// in-memory client cannot even express (a NUL in the path, say).
    /// </summary>
    public bool RealServer { get; init; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _database.Settings)
        {
            builder.UseSetting(key, value);
        }

        builder.UseSetting("Demo:Enabled", "false");
        builder.UseSetting("Worker:Enabled", "false");
        foreach (var (key, value) in Settings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        builder.ConfigureTestServices(services =>
        {
            if (UseTestAuthentication)
            {
                services.AddSingleton<TestSessionTokens>();
                services.AddAuthentication().AddScheme<AuthenticationSchemeOptions, TestAuthHandler>(TestAuthHandler.SchemeName, null);
                services.PostConfigure<AuthenticationOptions>(o => o.DefaultAuthenticateScheme = TestAuthHandler.SchemeName);
            }
        });
    }

    public async Task InitializeWorldAsync()
    {
        if (RealServer)
        {
            UseKestrel(options => options.Listen(System.Net.IPAddress.Loopback, 0));
            StartServer();
        }

        _ = Services; // builds the host: migrations run
        var dbFactory = Services.GetRequiredService<IDbContextFactory<HubDbContext>>();
        await World.SeedAsync(dbFactory);
        if (UseTestAuthentication)
        {
            // Each test user's session exists before the test begins, as a signed-in user's would (a drill that
            // locks the database must not make the first request of a user the one that writes its session).
            var tokens = Services.GetRequiredService<TestSessionTokens>();
            foreach (var user in World.All)
            {
                await tokens.GetAsync(user.Id);
            }
        }
    }

    /// <summary>
    /// A principal as a real sign-in makes it: the user's claims and a server-side session of their own (so a test
    /// can end it, as sign-out would, and see what stops working).
    /// </summary>
    public async Task<ClaimsPrincipal> SignInAsync(TestUser user)
    {
        var token = await Services.GetRequiredService<HubSessions>().StartAsync(user.Id, CancellationToken.None);
        return new ClaimsPrincipal(HubClaims.CreateIdentity(user.Id, user.Name, null, token, "Test"));
    }

    /// <summary>Gives a test user a local password (hashed as the real sign-in checks it); returns the email to sign in with.</summary>
    public async Task<string> SetLocalPasswordAsync(TestUser user, string password)
    {
        var dbFactory = Services.GetRequiredService<IDbContextFactory<HubDbContext>>();
        var hasher = Services.GetRequiredService<Microsoft.AspNetCore.Identity.IPasswordHasher<HubUser>>();
        await using var db = await dbFactory.CreateDbContextAsync();
        var row = await db.Users.SingleAsync(u => u.Id == user.Id);
        row.NormalizedEmail = row.Email!.ToUpperInvariant();
        row.PasswordHash = hasher.HashPassword(row, password);
        await db.SaveChangesAsync();
        return row.Email;
    }

    /// <summary>The real server's address when <see cref="RealServer"/> is on.</summary>
    public Uri ServerAddress => new(Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
        .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First());

    public HttpClient CreateClientFor(TestUser? user)
    {
        var client = RealServer
            ? new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = ServerAddress }
            : CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        if (user is not null)
        {
            client.DefaultRequestHeaders.Add(TestAuthHandler.UserHeader, user.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return client;
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<(long User, string Tenant), Lazy<string>> _apiTokens = new();

    /// <summary>
    /// A client of the API as another app calls it: with a hub API token of <paramref name="user"/> for
    /// <paramref name="tenant"/> (one per user and tenant, issued on first use), or with no credential at all.
    /// </summary>
    public HttpClient CreateApiClientFor(TestUser? user, string? tenant = null)
    {
        var client = CreateClientFor(null);
        if (user is not null)
        {
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ApiTokenFor(user, tenant));
        }

        return client;
    }

    public HttpClient CreateApiClient(string token)
    {
        var client = CreateClientFor(null);
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>
    /// The API token of <paramref name="user"/> for <paramref name="tenant"/> (by default alpha, or the user's one tenant
    /// when that is not alpha) with the user's own role there.
    /// </summary>
    public string ApiTokenFor(TestUser user, string? tenant = null)
    {
        tenant ??= user == World.BetaOwner ? TestWorld.Beta : TestWorld.Alpha;
        return _apiTokens.GetOrAdd((user.Id, tenant), key => new Lazy<string>(() => IssueApiTokenAsync(user, key.Tenant, name: ApiTokenName(user, key.Tenant)).GetAwaiter().GetResult())).Value;
    }

    /// <summary>The name of <see cref="ApiTokenFor"/>'s token, as runs it starts name their initiator.</summary>
    public static string ApiTokenName(TestUser user, string tenant = TestWorld.Alpha) => $"{tenant}-{user.Id}";

    /// <summary>How a run started with <see cref="ApiTokenFor"/>'s token names its initiator.</summary>
    public static string ApiInitiator(TestUser user, string tenant = TestWorld.Alpha) => $"API token '{ApiTokenName(user, tenant)}' of {user.Name}";

    /// <summary>
    /// Issues an API token straight into the database, as the API tokens page stores one (its rules are tested through
    /// the page's commands): <paramref name="role"/> defaults to the creator's role in the tenant.
    /// </summary>
    public async Task<string> IssueApiTokenAsync(
        TestUser creator, string tenant = TestWorld.Alpha, TenantRole? role = null, DateTime? expiresAt = null, string? name = null)
    {
        var dbFactory = Services.GetRequiredService<IDbContextFactory<HubDbContext>>();
        await using var db = await dbFactory.CreateDbContextAsync();
        var tenantId = await db.Tenants.Where(t => t.ExternalId == tenant).Select(t => t.Id).SingleAsync();
        var own = await db.Memberships.Where(m => m.TenantId == tenantId && m.UserId == creator.Id).Select(m => (TenantRole?)m.Role).SingleOrDefaultAsync();
        var secret = OperationsHub.Web.Features.ApiTokens.ApiTokenSecrets.Generate();
        var now = DateTime.UtcNow;
        db.ApiTokens.Add(new ApiToken
        {
            TenantId = tenantId,
            Name = name ?? $"test-{creator.Id}-{Guid.NewGuid():N}",
            Role = role ?? own ?? TenantRole.Owner,
            SecretHash = OperationsHub.Web.Features.ApiTokens.ApiTokenSecrets.Hash(secret),
            Hint = OperationsHub.Web.Features.ApiTokens.ApiTokenSecrets.Hint(secret),
            CreatedByUserId = creator.Id,
            CreatedAt = now,
            ExpiresAt = expiresAt ?? now.AddDays(30),
        });
        await db.SaveChangesAsync();
        return secret;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _database.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}

public sealed class TestAuthHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Test";
    public const string UserHeader = "X-Test-User-Id";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Headers.TryGetValue(UserHeader, out var value) || !long.TryParse(value, out var userId))
        {
            // Fall back to the real cookie, so tests that sign in through the form work too.
            return await Context.AuthenticateAsync(Microsoft.AspNetCore.Authentication.Cookies.CookieAuthenticationDefaults.AuthenticationScheme);
        }

        var dbFactory = Context.RequestServices.GetRequiredService<IDbContextFactory<HubDbContext>>();
        await using var db = await dbFactory.CreateDbContextAsync();
        var user = await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Id == userId);
        if (user is null)
        {
            return AuthenticateResult.Fail("Unknown test user.");
        }

        var token = await Context.RequestServices.GetRequiredService<TestSessionTokens>().GetAsync(user.Id);
        var identity = HubClaims.CreateIdentity(user.Id, user.DisplayName, user.Email, token, SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }
}

/// <summary>One live server-side session per test user, started on the user's first request through the header.</summary>
public sealed class TestSessionTokens(HubSessions sessions)
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, Lazy<Task<string>>> _tokens = new();

    public Task<string> GetAsync(long userId) =>
        _tokens.GetOrAdd(userId, id => new Lazy<Task<string>>(() => sessions.StartAsync(id, CancellationToken.None))).Value;
}

public sealed record TestUser(long Id, string Name);

/// <summary>Two tenants and the people around them, with a run in each tenant.</summary>
public sealed class TestWorld
{
    public const string Alpha = "alpha";
    public const string Beta = "beta";

    public TestUser AlphaOwner { get; private set; } = null!;
    public TestUser AlphaOperator { get; private set; } = null!;
    public TestUser AlphaReadonly { get; private set; } = null!;
    public TestUser BetaOwner { get; private set; } = null!;
    public TestUser BothTenants { get; private set; } = null!;
    public TestUser Outsider { get; private set; } = null!;

    public IEnumerable<TestUser> All => [AlphaOwner, AlphaOperator, AlphaReadonly, BetaOwner, BothTenants, Outsider];
    public long AlphaTenantId { get; private set; }
    public long BetaTenantId { get; private set; }
    public long AlphaRunId { get; private set; }

    /// <summary>Eight empty backups of alpha (a restore of each is distinct work that starts as it is).</summary>
    public IReadOnlyList<string> AlphaBackupIds { get; private set; } = [];

    /// <summary>A backup of alpha with ten assignments to unmapped groups (start it with unmapped=skip).</summary>
    public string AlphaBackupWithAssignments { get; private set; } = "";

    public string BetaBackupId { get; private set; } = "";
    public long BetaRunId { get; private set; }

    public async Task SeedAsync(IDbContextFactory<HubDbContext> dbFactory)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        var alpha = new Tenant { ExternalId = Alpha, Name = "Alpha Corp" };
        var beta = new Tenant { ExternalId = Beta, Name = "Beta Inc" };
        db.Tenants.AddRange(alpha, beta);
        var users = new[] { "Ada Owner", "Otto Operator", "Rita Readonly", "Bert Owner", "Bo Both", "Olga Outsider" }
            .Select(name => new HubUser { DisplayName = name, Email = $"{name.Split(' ')[0].ToLowerInvariant()}@test" })
            .ToArray();
        db.Users.AddRange(users);
        await db.SaveChangesAsync();

        db.Memberships.AddRange(
            new TenantMembership { TenantId = alpha.Id, UserId = users[0].Id, Role = TenantRole.Owner },
            new TenantMembership { TenantId = alpha.Id, UserId = users[1].Id, Role = TenantRole.Operator },
            new TenantMembership { TenantId = alpha.Id, UserId = users[2].Id, Role = TenantRole.Readonly },
            new TenantMembership { TenantId = beta.Id, UserId = users[3].Id, Role = TenantRole.Owner },
            new TenantMembership { TenantId = alpha.Id, UserId = users[4].Id, Role = TenantRole.Manager },
            new TenantMembership { TenantId = beta.Id, UserId = users[4].Id, Role = TenantRole.Readonly });
        var alphaRun = NewRun(alpha.Id, users[0]);
        var betaRun = NewRun(beta.Id, users[3]);
        db.Runs.AddRange(alphaRun, betaRun);
        await db.SaveChangesAsync();

        // Backups a restore can name: empty ones (nothing to map, so a restore of one starts as it is), and one with
        // assignments to ten unmapped source groups, for tests that need a restore with real work to do.
        var backups = Enumerable.Range(0, 8).Select(_ => NewBackup(alpha.Id, alphaRun.Id, 0)).ToList();
        var withWork = NewBackup(alpha.Id, alphaRun.Id, 10);
        var betaBackup = NewBackup(beta.Id, betaRun.Id, 0);
        db.Backups.AddRange([.. backups, withWork, betaBackup]);
        await db.SaveChangesAsync();
        AlphaBackupIds = backups.Select(b => b.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        AlphaBackupWithAssignments = withWork.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        BetaBackupId = betaBackup.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);

        (AlphaTenantId, BetaTenantId) = (alpha.Id, beta.Id);
        (AlphaRunId, BetaRunId) = (alphaRun.Id, betaRun.Id);
        AlphaOwner = new(users[0].Id, users[0].DisplayName);
        AlphaOperator = new(users[1].Id, users[1].DisplayName);
        AlphaReadonly = new(users[2].Id, users[2].DisplayName);
        BetaOwner = new(users[3].Id, users[3].DisplayName);
        BothTenants = new(users[4].Id, users[4].DisplayName);
        Outsider = new(users[5].Id, users[5].DisplayName);
    }

    private static PolicyBackup NewBackup(long tenantId, long runId, int assignments) => new()
    {
        TenantId = tenantId,
        RunId = runId + (Interlocked.Increment(ref _backupRuns) * 1_000_000),
        TakenAt = DateTime.UtcNow.AddMinutes(-10),
        PolicyCount = assignments,
        Assignments = [.. Enumerable.Range(1, assignments).Select(i => new BackupAssignment
        {
            PolicyId = $"pol-{i}",
            PolicyName = $"Policy {i}",
            SourceGroupId = $"00000000-0000-4000-8000-{i:D12}",
            SourceGroupName = $"Source group {i}",
        })],
    };

    private static long _backupRuns;

    private static OperationRun NewRun(long tenantId, HubUser initiator) => new()
    {
        TenantId = tenantId,
        Type = "inventory_sync",
        Status = RunStatus.Completed,
        Outcome = RunOutcome.Succeeded,
        RunIdentityHash = $"seed-{tenantId}",
        ContextJson = "{\"target\":\"All devices\",\"inputs\":{}}",
        InitiatorUserId = initiator.Id,
        InitiatorName = initiator.DisplayName,
        CreatedAt = DateTime.UtcNow.AddMinutes(-5),
        StartedAt = DateTime.UtcNow.AddMinutes(-4),
        CompletedAt = DateTime.UtcNow.AddMinutes(-3),
        UpdatedAt = DateTime.UtcNow.AddMinutes(-3),
    };
}
