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
    }

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning,
        Message = "Demo data is on. Sign in as any of {Emails} with the password {Password}")]
    private static partial void LogDemoSignIns(ILogger logger, string emails, string password);

    public sealed record DemoTenant(string ExternalId, string Name);

    public sealed record DemoUser(string Email, string DisplayName, IReadOnlyList<(string Tenant, TenantRole Role)> Memberships);
}
