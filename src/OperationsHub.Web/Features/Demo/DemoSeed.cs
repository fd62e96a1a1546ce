using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Operations;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Samples;
using OperationsHub.Web.Features.Auth;

namespace OperationsHub.Web.Features.Demo;

/// <summary>The demo data: two tenants, a user for each role, and one user who belongs to both tenants.</summary>
public static partial class DemoSeed
{
    /// <summary>The password of every demo user. Demo data only exists while <c>Demo:Enabled</c> is on.</summary>
    public const string DemoPassword = "OpsHub-demo-1";

    public static readonly IReadOnlyList<DemoTenant> Tenants =
    [
        new("contoso", "Contoso Ltd"),
        new("fabrikam", "Fabrikam Inc"),
    ];

    public static readonly IReadOnlyList<DemoUser> Users =
    [
        new("owner@contoso.test", "Olivia Owner", [("contoso", TenantRole.Owner)]),
        new("manager@contoso.test", "Mateo Manager", [("contoso", TenantRole.Manager)]),
        new("operator@contoso.test", "Priya Operator", [("contoso", TenantRole.Operator)]),
        new("readonly@contoso.test", "Rui Readonly", [("contoso", TenantRole.Readonly)]),
        new("owner@fabrikam.test", "Farah Owner", [("fabrikam", TenantRole.Owner)]),
        new("msp@partner.test", "Sam Partner", [("contoso", TenantRole.Operator), ("fabrikam", TenantRole.Manager)]),
    ];

    public static IServiceCollection AddDemo(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DemoOptions>().BindConfiguration(DemoOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<DemoOptions>, ValidateDemoOptions>();
        if (configuration.GetValue<bool>($"{DemoOptions.SectionName}:{nameof(DemoOptions.Enabled)}")
            && configuration.GetValue($"{DemoOptions.SectionName}:{nameof(DemoOptions.GenerateRuns)}", true))
        {
            services.AddHostedService<DemoRunGenerator>();
        }

        return services;
    }

    /// <summary>Idempotent: adds whatever of the demo data is missing, and nothing when the demo is off.</summary>
    public static async Task SeedDemoAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        if (!services.GetRequiredService<IOptions<DemoOptions>>().Value.Enabled)
        {
            return;
        }

        var factory = services.GetRequiredService<IDbContextFactory<HubDbContext>>();
        await using var db = await factory.CreateDbContextAsync(cancellationToken);
        foreach (var tenant in Tenants)
        {
            if (!await db.Tenants.AnyAsync(t => t.ExternalId == tenant.ExternalId, cancellationToken))
            {
                db.Tenants.Add(new Tenant { ExternalId = tenant.ExternalId, Name = tenant.Name });
            }
        }

        var hasher = services.GetRequiredService<IPasswordHasher<HubUser>>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        foreach (var demo in Users)
        {
            var normalized = LocalSignIn.Normalize(demo.Email);
            var user = await db.Users.SingleOrDefaultAsync(u => u.NormalizedEmail == normalized, cancellationToken);
            if (user is null)
            {
                user = new HubUser { Email = demo.Email, NormalizedEmail = normalized, DisplayName = demo.DisplayName, CreatedAt = now };
                db.Users.Add(user);
            }

            user.PasswordHash ??= hasher.HashPassword(user, DemoPassword);
        }

        await db.SaveChangesAsync(cancellationToken);

        var tenantIds = await db.Tenants.ToDictionaryAsync(t => t.ExternalId, t => t.Id, cancellationToken);
        var userIds = await db.Users.Where(u => u.Email != null).ToDictionaryAsync(u => u.Email!, u => u.Id, cancellationToken);
        foreach (var user in Users)
        {
            foreach (var (tenant, role) in user.Memberships)
            {
                var tenantId = tenantIds[tenant];
                var userId = userIds[user.Email];
                if (!await db.Memberships.AnyAsync(m => m.TenantId == tenantId && m.UserId == userId, cancellationToken))
                {
                    db.Memberships.Add(new TenantMembership { TenantId = tenantId, UserId = userId, Role = role });
                }
            }
        }

        await db.SaveChangesAsync(cancellationToken);

        // The directory cache fills on the first sync and the restore page has a backup to offer: each demo tenant
        // gets a directory sync and a backup through the one start path, once (system runs: nobody is notified).
        var runs = services.GetRequiredService<OperationRunService>();
        var registry = services.GetRequiredService<OperationTypeRegistry>();
        foreach (var (_, tenantId) in tenantIds)
        {
            if (!await db.DirectorySyncStates.AnyAsync(s => s.TenantId == tenantId, cancellationToken))
            {
                await StartOnceAsync(tenantId, SampleOperations.DirectorySync, []);
            }

            if (!await db.Backups.AnyAsync(b => b.TenantId == tenantId, cancellationToken))
            {
                await StartOnceAsync(tenantId, SampleOperations.Backup, new() { ["duration_seconds"] = "2" });
            }
        }

        async Task StartOnceAsync(long tenantId, string type, Dictionary<string, string> inputs)
        {
            if (!await db.Runs.AnyAsync(r => r.TenantId == tenantId && r.Type == type, cancellationToken))
            {
                await runs.StartAsync(new StartRunRequest
                {
                    TenantId = tenantId,
                    Type = type,
                    Target = registry.TryGet(type, out var descriptor) ? descriptor.DefaultTarget : null,
                    Inputs = inputs,
                }, cancellationToken);
            }
        }

        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("OperationsHub.Demo");
        LogDemoSignIns(logger, string.Join(", ", Users.Select(u => u.Email)), DemoPassword);
        await IssueDemoTokensAsync(db, tenantIds, userIds, now, cancellationToken);
        if (services.GetRequiredService<IHostEnvironment>().IsDevelopment())
        {
            foreach (var tenant in Tenants)
            {
                LogDemoToken(logger, tenant.ExternalId, DemoToken(tenant.ExternalId));
            }
        }
    }

    /// <summary>The name of the Operator token each demo tenant gets, so the README's curl works at once.</summary>
    public const string DemoTokenName = "demo-cli";

    /// <summary>
    /// The demo tenant's API token. Like the demo password it is no secret: derived from the tenant's name, so every
    /// node of a demo farm and every restart has the same one (a random token could only be printed by the node that
    /// made it). Demo data exists only while <c>Demo:Enabled</c> is on.
    /// </summary>
    public static string DemoToken(string tenantExternalId) => ApiTokens.ApiTokenSecrets.Prefix
        + System.Buffers.Text.Base64Url.EncodeToString(System.Security.Cryptography.SHA256.HashData(
            System.Text.Encoding.UTF8.GetBytes($"OperationsHub demo API token for {tenantExternalId}")));

    /// <summary>One Operator token per demo tenant, created by its owner, restored (unrevoked, unexpired) on each start.</summary>
    private static async Task IssueDemoTokensAsync(
        HubDbContext db, Dictionary<string, long> tenantIds, Dictionary<string, long> userIds, DateTime now, CancellationToken cancellationToken)
    {
        foreach (var tenant in Tenants)
        {
            var owner = Users.First(u => u.Memberships.Contains((tenant.ExternalId, TenantRole.Owner)));
            var tenantId = tenantIds[tenant.ExternalId];
            var secret = DemoToken(tenant.ExternalId);
            var token = await db.ApiTokens.SingleOrDefaultAsync(t => t.TenantId == tenantId && t.Name == DemoTokenName, cancellationToken);
            if (token is null)
            {
                token = new ApiToken { TenantId = tenantId, Name = DemoTokenName, SecretHash = "", Hint = "", CreatedAt = now };
                db.ApiTokens.Add(token);
            }

            token.Role = TenantRole.Operator;
            token.SecretHash = ApiTokens.ApiTokenSecrets.Hash(secret);
            token.Hint = ApiTokens.ApiTokenSecrets.Hint(secret);
            token.CreatedByUserId = userIds[owner.Email];
            token.ExpiresAt = now.AddDays(ApiTokens.ApiTokenCommands.DefaultLifetimeDays);
            token.RevokedAt = null;
            token.RevokedBy = null;
        }

        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            // Another node of a demo farm seeded the same token at the same moment: it is the same token.
        }
    }

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "Demo API token for {Tenant}: {Token}")]
    private static partial void LogDemoToken(ILogger logger, string tenant, string token);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning,
        Message = "Demo data is on. Sign in as any of {Emails} with the password {Password}")]
    private static partial void LogDemoSignIns(ILogger logger, string emails, string password);

    public sealed record DemoTenant(string ExternalId, string Name);

    public sealed record DemoUser(string Email, string DisplayName, IReadOnlyList<(string Tenant, TenantRole Role)> Memberships);
}
