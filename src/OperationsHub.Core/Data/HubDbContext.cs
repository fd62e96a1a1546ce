using System.Text;
using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using OperationsHub.Core.Diagnostics;
using OperationsHub.Core.Domain;

namespace OperationsHub.Core.Data;

public sealed class HubDbContext(DbContextOptions<HubDbContext> options) : DbContext(options), IDataProtectionKeyContext
{
    /// <summary>The SQL filter of the dedupe index; must name the stored form of <see cref="RunStatus"/>.</summary>
    public const string ActiveRunFilter = "status IN ('Queued', 'Running')";

    public DbSet<OperationRun> Runs => Set<OperationRun>();

    public DbSet<OperationRunEvent> RunEvents => Set<OperationRunEvent>();

    public DbSet<UserNotification> Notifications => Set<UserNotification>();

    public DbSet<RunLogLine> RunLogLines => Set<RunLogLine>();

    public DbSet<Tenant> Tenants => Set<Tenant>();

    public DbSet<HubUser> Users => Set<HubUser>();

    public DbSet<TenantMembership> Memberships => Set<TenantMembership>();

    public DbSet<SignInThrottle> SignInThrottles => Set<SignInThrottle>();

    public DbSet<HubSession> Sessions => Set<HubSession>();

    public DbSet<CachedDirectoryGroup> DirectoryGroups => Set<CachedDirectoryGroup>();

    public DbSet<DirectorySyncState> DirectorySyncStates => Set<DirectorySyncState>();

    public DbSet<PolicyBackup> Backups => Set<PolicyBackup>();

    public DbSet<BackupAssignment> BackupAssignments => Set<BackupAssignment>();

    public DbSet<GroupRoleBinding> GroupRoleBindings => Set<GroupRoleBinding>();

    public DbSet<ApiToken> ApiTokens => Set<ApiToken>();

    public DbSet<AuditEvent> AuditEvents => Set<AuditEvent>();

    public DbSet<WebhookEndpoint> WebhookEndpoints => Set<WebhookEndpoint>();

    public DbSet<WebhookDelivery> WebhookDeliveries => Set<WebhookDelivery>();

    public DbSet<WebhookAttempt> WebhookAttempts => Set<WebhookAttempt>();

    /// <summary>
    /// The ASP.NET Core Data Protection key ring, shared by every node on this database: a sign-in cookie or an
    /// antiforgery token one node protected, another unprotects.
    /// </summary>
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // Stored as text so the database reads plainly ("Running", not 1) and enum reordering cannot corrupt data.
        configurationBuilder.Properties<RunStatus>().HaveConversion<string>().HaveMaxLength(16);
        configurationBuilder.Properties<RunOutcome>().HaveConversion<string>().HaveMaxLength(24);
        configurationBuilder.Properties<TenantRole>().HaveConversion<string>().HaveMaxLength(16);
        configurationBuilder.Properties<RunLogLevel>().HaveConversion<string>().HaveMaxLength(16);
        configurationBuilder.Properties<DirectoryGroupKind>().HaveConversion<string>().HaveMaxLength(16);
        configurationBuilder.Properties<ThemePreference>().HaveConversion<string>().HaveMaxLength(16);
        configurationBuilder.Properties<WebhookDeliveryStatus>().HaveConversion<string>().HaveMaxLength(16);
        configurationBuilder.Properties<SessionEndReason>().HaveConversion<string>().HaveMaxLength(16);
        configurationBuilder.Properties<SessionEndReason?>().HaveConversion<string>().HaveMaxLength(16);
        // Every timestamp is UTC; SQLite hands DateTime back as Unspecified, so say so on the way out.
        configurationBuilder.Properties<DateTime>().HaveConversion<UtcDateTimeConverter>();
        configurationBuilder.Properties<DateTime?>().HaveConversion<UtcDateTimeConverter>();
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Tenant>(e =>
        {
            e.ToTable("tenants");
            e.Property(t => t.ExternalId).HasMaxLength(64);
            e.Property(t => t.Name).HasMaxLength(200);
            e.Property(t => t.DirectoryTenantId).HasMaxLength(64);
            e.HasIndex(t => t.ExternalId).IsUnique();
        });

        modelBuilder.Entity<CachedDirectoryGroup>(e =>
        {
            e.ToTable("directory_groups");
            e.HasKey(g => new { g.TenantId, g.ObjectId });
            e.Property(g => g.ObjectId).HasMaxLength(64);
            e.Property(g => g.DisplayName).HasMaxLength(256);
            e.Property(g => g.Description).HasMaxLength(1024);
            e.Property(g => g.Mail).HasMaxLength(320);
            e.HasOne<Tenant>().WithMany().HasForeignKey(g => g.TenantId).OnDelete(DeleteBehavior.Cascade);
            // The directory page and the restore mapping list a tenant's groups by name, and match names exactly.
            e.HasIndex(g => new { g.TenantId, g.DisplayName }).HasDatabaseName("ix_directory_groups_tenant_name");
        });

        modelBuilder.Entity<DirectorySyncState>(e =>
        {
            e.ToTable("directory_sync_states");
            e.HasKey(s => s.TenantId);
            e.Property(s => s.TenantId).ValueGeneratedNever();
            e.Property(s => s.DeltaLink).HasMaxLength(4096);
            e.HasOne<Tenant>().WithMany().HasForeignKey(s => s.TenantId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<PolicyBackup>(e =>
        {
            e.ToTable("backups");
            e.HasOne<Tenant>().WithMany().HasForeignKey(b => b.TenantId).OnDelete(DeleteBehavior.Cascade);
            e.HasMany(b => b.Assignments).WithOne().HasForeignKey(a => a.BackupId).OnDelete(DeleteBehavior.Cascade);
            e.HasIndex(b => new { b.TenantId, b.TakenAt }).HasDatabaseName("ix_backups_tenant_taken");
            e.HasIndex(b => b.RunId).IsUnique();
        });

        modelBuilder.Entity<BackupAssignment>(e =>
        {
            e.ToTable("backup_assignments");
            e.Property(a => a.PolicyId).HasMaxLength(64);
            e.Property(a => a.PolicyName).HasMaxLength(256);
            e.Property(a => a.SourceGroupId).HasMaxLength(64);
            e.Property(a => a.SourceGroupName).HasMaxLength(256);
            e.HasIndex(a => a.BackupId);
        });

        modelBuilder.Entity<GroupRoleBinding>(e =>
        {
            e.ToTable("group_role_bindings");
            e.HasKey(b => new { b.TenantId, b.GroupObjectId });
            e.Property(b => b.GroupObjectId).HasMaxLength(64);
            e.Property(b => b.GroupDisplayName).HasMaxLength(256);
            e.Property(b => b.CreatedBy).HasMaxLength(200);
            e.HasOne<Tenant>().WithMany().HasForeignKey(b => b.TenantId).OnDelete(DeleteBehavior.Cascade);
            // Sign-in resolves "which tenants do this user's groups reach?" from the group side.
            e.HasIndex(b => b.GroupObjectId).HasDatabaseName("ix_group_role_bindings_group");
        });

        modelBuilder.Entity<ApiToken>(e =>
        {
            e.ToTable("api_tokens");
            e.Property(t => t.Name).HasMaxLength(ApiToken.MaxNameLength);
            e.Property(t => t.SecretHash).HasMaxLength(64);
            e.Property(t => t.Hint).HasMaxLength(16);
            e.Property(t => t.RevokedBy).HasMaxLength(200);
            e.HasOne<Tenant>().WithMany().HasForeignKey(t => t.TenantId).OnDelete(DeleteBehavior.Cascade);
            e.HasOne<HubUser>().WithMany().HasForeignKey(t => t.CreatedByUserId).OnDelete(DeleteBehavior.Cascade);
            // Every API request looks its token up by hash; a tenant's names are unique so the list and the audit
            // trail can name a token plainly.
            e.HasIndex(t => t.SecretHash).IsUnique().HasDatabaseName("ux_api_tokens_secret_hash");
            e.HasIndex(t => new { t.TenantId, t.Name }).IsUnique().HasDatabaseName("ux_api_tokens_tenant_name");
        });

        modelBuilder.Entity<WebhookEndpoint>(e =>
        {
            e.ToTable("webhook_endpoints");
            e.Property(w => w.Name).HasMaxLength(WebhookEndpoint.MaxNameLength);
            e.Property(w => w.Url).HasMaxLength(WebhookEndpoint.MaxUrlLength);
            e.Property(w => w.ProtectedSecret).HasMaxLength(1024);
            e.Property(w => w.SecretHint).HasMaxLength(16);
            // Flags, so the outbox insert can test them in SQL (events & @bit).
            e.Property(w => w.Events).HasConversion<int>();
            e.Property(w => w.TypeFilter).HasMaxLength(2048);
            e.Property(w => w.OutcomeFilter).HasMaxLength(128);
            e.HasOne<Tenant>().WithMany().HasForeignKey(w => w.TenantId).OnDelete(DeleteBehavior.Cascade);
            e.HasOne<HubUser>().WithMany().HasForeignKey(w => w.CreatedByUserId).OnDelete(DeleteBehavior.SetNull);
            // Every lifecycle write that can raise an event looks up the tenant's endpoints.
            e.HasIndex(w => w.TenantId).HasDatabaseName("ix_webhook_endpoints_tenant");
            e.HasIndex(w => new { w.TenantId, w.Name }).IsUnique().HasDatabaseName("ux_webhook_endpoints_tenant_name");
        });

        modelBuilder.Entity<WebhookDelivery>(e =>
        {
            e.ToTable("webhook_deliveries");
            e.Property(d => d.Event).HasMaxLength(32);
            e.Property(d => d.ClaimedBy).HasMaxLength(128);
            e.Property(d => d.LastError).HasMaxLength(WebhookAttempt.MaxErrorLength);
            e.HasOne<WebhookEndpoint>().WithMany().HasForeignKey(d => d.EndpointId).OnDelete(DeleteBehavior.Cascade);
            e.HasOne<OperationRun>().WithMany().HasForeignKey(d => d.RunId).OnDelete(DeleteBehavior.Cascade);
            // The sender takes what is due, oldest first; only pending rows are in the index.
            e.HasIndex(d => d.NextAttemptAt).HasFilter("status = 'Pending'").HasDatabaseName("ix_webhook_deliveries_due");
            // The delivery log reads an endpoint's newest first.
            e.HasIndex(d => new { d.EndpointId, d.Id }).HasDatabaseName("ix_webhook_deliveries_endpoint");
            e.HasIndex(d => d.RunId).HasDatabaseName("ix_webhook_deliveries_run");
        });

        modelBuilder.Entity<WebhookAttempt>(e =>
        {
            e.ToTable("webhook_attempts");
            e.Property(a => a.Error).HasMaxLength(WebhookAttempt.MaxErrorLength);
            e.HasOne<WebhookDelivery>().WithMany().HasForeignKey(a => a.DeliveryId).OnDelete(DeleteBehavior.Cascade);
            e.HasIndex(a => a.DeliveryId).HasDatabaseName("ix_webhook_attempts_delivery");
        });

        modelBuilder.Entity<AuditEvent>(e =>
        {
            e.ToTable("audit_events");
            e.Property(a => a.ActorName).HasMaxLength(200);
            e.Property(a => a.Action).HasMaxLength(64);
            e.Property(a => a.Detail).HasMaxLength(1000);
            e.HasOne<Tenant>().WithMany().HasForeignKey(a => a.TenantId).OnDelete(DeleteBehavior.Cascade);
            e.HasOne<HubUser>().WithMany().HasForeignKey(a => a.ActorUserId).OnDelete(DeleteBehavior.SetNull);
            e.HasIndex(a => new { a.TenantId, a.Id }).HasDatabaseName("ix_audit_events_tenant");
        });

        modelBuilder.Entity<HubUser>(e =>
        {
            e.ToTable("users");
            e.Property(u => u.DisplayName).HasMaxLength(200);
            e.Property(u => u.Email).HasMaxLength(320);
            e.Property(u => u.NormalizedEmail).HasMaxLength(320);
            e.Property(u => u.PasswordHash).HasMaxLength(512);
            e.Property(u => u.EntraObjectId).HasMaxLength(64);
            e.Property(u => u.EntraTenantId).HasMaxLength(64);
            e.HasIndex(u => u.NormalizedEmail).IsUnique().HasFilter("normalized_email IS NOT NULL");
            e.HasIndex(u => new { u.EntraTenantId, u.EntraObjectId }).IsUnique().HasFilter("entra_object_id IS NOT NULL");
        });

        modelBuilder.Entity<SignInThrottle>(e =>
        {
            e.ToTable("sign_in_throttles");
            e.HasKey(t => t.NormalizedEmail);
            e.Property(t => t.NormalizedEmail).HasMaxLength(320);
        });

        modelBuilder.Entity<DataProtectionKey>(e =>
        {
            e.ToTable("data_protection_keys");
            e.Property(k => k.FriendlyName).HasMaxLength(200);
        });

        modelBuilder.Entity<HubSession>(e =>
        {
            e.ToTable("user_sessions");
            e.Property(x => x.Id).HasMaxLength(64);
            e.HasOne<HubUser>().WithMany().HasForeignKey(x => x.UserId).OnDelete(DeleteBehavior.Cascade);
            // Ending every session of a user (lockout) and pruning old ones both start from here.
            e.HasIndex(x => new { x.UserId, x.EndedAt });
            e.HasIndex(x => x.LastSeenAt);
        });

        modelBuilder.Entity<TenantMembership>(e =>
        {
            e.ToTable("tenant_memberships");
            e.HasKey(m => new { m.TenantId, m.UserId });
            e.HasOne<Tenant>().WithMany().HasForeignKey(m => m.TenantId).OnDelete(DeleteBehavior.Cascade);
            e.HasOne<HubUser>().WithMany().HasForeignKey(m => m.UserId).OnDelete(DeleteBehavior.Cascade);
            e.HasIndex(m => m.UserId);
        });

        modelBuilder.Entity<OperationRun>(e =>
        {
            e.ToTable("operation_runs");
            e.Property(r => r.Type).HasMaxLength(64);
            e.Property(r => r.RunIdentityHash).HasMaxLength(64);
            e.Property(r => r.InitiatorName).HasMaxLength(200);
            e.Property(r => r.Target).HasMaxLength(256);
            e.Property(r => r.LeaseOwner).HasMaxLength(128);
            e.Property(r => r.TraceParent).HasMaxLength(HubTracing.MaxTraceParentLength);
            e.HasOne(r => r.Tenant).WithMany().HasForeignKey(r => r.TenantId).OnDelete(DeleteBehavior.Restrict);
            e.HasOne<HubUser>().WithMany().HasForeignKey(r => r.InitiatorUserId).OnDelete(DeleteBehavior.SetNull);

            // The dedupe guarantee: at most one active run per tenant and identity. Insert first, never check first.
            e.HasIndex(r => new { r.TenantId, r.RunIdentityHash })
                .IsUnique()
                .HasFilter(ActiveRunFilter)
                .HasDatabaseName("ux_operation_runs_active_identity");
            // The runs grid reads newest first by run number (id, which grows with creation time). SQLite keeps index
            // entries in rowid order within equal keys, so an index on (tenant_id, X) serves "filter by X, newest
            // first" without sorting, and a LIMIT stops the scan early. Pairs that admins combine get their own index
            // so that an empty combination is answered from one index range, not by probing every row of another.
            e.HasIndex(r => r.TenantId).HasDatabaseName("ix_operation_runs_tenant");
            e.HasIndex(r => new { r.TenantId, r.Status }).HasDatabaseName("ix_operation_runs_tenant_status");
            e.HasIndex(r => new { r.TenantId, r.Outcome }).HasDatabaseName("ix_operation_runs_tenant_outcome");
            e.HasIndex(r => new { r.TenantId, r.Type }).HasDatabaseName("ix_operation_runs_tenant_type");
            e.HasIndex(r => new { r.TenantId, r.InitiatorUserId }).HasDatabaseName("ix_operation_runs_tenant_initiator");
            e.HasIndex(r => new { r.TenantId, r.Type, r.Outcome }).HasDatabaseName("ix_operation_runs_tenant_type_outcome");
            e.HasIndex(r => new { r.TenantId, r.InitiatorUserId, r.Outcome }).HasDatabaseName("ix_operation_runs_tenant_initiator_outcome");
            e.HasIndex(r => new { r.TenantId, r.InitiatorUserId, r.Type, r.Outcome }).HasDatabaseName("ix_operation_runs_tenant_initiator_type_outcome");
            // Time ranges: the first run created since a moment, whose id then bounds the scan; and the Created sort.
            e.HasIndex(r => new { r.TenantId, r.CreatedAt }).HasDatabaseName("ix_operation_runs_tenant_created");
            // The Duration sort. The column is generated by the database; each provider gives its expression.
            e.Property(r => r.DurationMs).ValueGeneratedOnAddOrUpdate();
            e.HasIndex(r => new { r.TenantId, r.DurationMs }).HasDatabaseName("ix_operation_runs_tenant_duration");
            // The queue: the worker claims the oldest queued runs. A partial index holds only those, in id order, so a
            // claim reads as many entries as it takes however long the backlog (a run enters it once, at insert).
            e.HasIndex(r => r.Id).HasFilter("status = 'Queued'").HasDatabaseName("ix_operation_runs_queue");
            // Recovery scans Running by lease expiry (and Queued of unknown types by age).
            e.HasIndex(r => new { r.Status, r.LeaseExpiresAt }).HasDatabaseName("ix_operation_runs_status_lease");
            e.HasIndex(r => new { r.Status, r.CompletedAt }).HasDatabaseName("ix_operation_runs_status_completed");
            // Earlier runs of the same work, for the detail page.
            e.HasIndex(r => new { r.TenantId, r.RunIdentityHash, r.CreatedAt })
                .HasDatabaseName("ix_operation_runs_identity_created");
            // "Retried as #57": the runs that retry this one, for the detail page. No foreign key: retention prunes
            // the older run first, and the retry keeps the number it retried.
            e.HasIndex(r => r.RetryOfRunId).HasFilter("retry_of_run_id IS NOT NULL").HasDatabaseName("ix_operation_runs_retry_of");
        });

        modelBuilder.Entity<RunLogLine>(e =>
        {
            e.ToTable("run_log_lines");
            e.Property(x => x.Message).HasMaxLength(RunLogLine.MaxMessageLength);
            e.HasOne<OperationRun>().WithMany().HasForeignKey(x => x.RunId).OnDelete(DeleteBehavior.Cascade);
            // The log view reads a run's lines in order, and "lines after the last one shown" while it follows them.
            e.HasIndex(x => new { x.RunId, x.Id }).HasDatabaseName("ix_run_log_lines_run");
        });

        modelBuilder.Entity<OperationRunEvent>(e =>
        {
            e.ToTable("operation_run_events");
            e.Property(x => x.Kind).HasMaxLength(32);
            e.HasOne(x => x.Run).WithMany().HasForeignKey(x => x.RunId).OnDelete(DeleteBehavior.Cascade);
            e.HasIndex(x => new { x.RunId, x.Id }).HasDatabaseName("ix_operation_run_events_run");
        });

        modelBuilder.Entity<UserNotification>(e =>
        {
            e.ToTable("user_notifications");
            e.Property(x => x.Kind).HasMaxLength(16);
            e.Property(x => x.Title).HasMaxLength(300);
            e.HasOne(x => x.Run).WithMany().HasForeignKey(x => x.RunId).OnDelete(DeleteBehavior.Cascade);
            e.HasOne<HubUser>().WithMany().HasForeignKey(x => x.UserId).OnDelete(DeleteBehavior.Cascade);
            e.HasIndex(x => new { x.UserId, x.ReadAt }).HasDatabaseName("ix_user_notifications_user_read");
            e.HasIndex(x => new { x.UserId, x.Id }).HasDatabaseName("ix_user_notifications_user_id");
            // Toasts read "ended since T" per user (ids are not a clock, see CommitOrder).
            e.HasIndex(x => new { x.UserId, x.CreatedAt }).HasDatabaseName("ix_user_notifications_user_created");
            e.HasIndex(x => x.RunId);
        });

        ApplySnakeCaseNames(modelBuilder);
    }

    private static void ApplySnakeCaseNames(ModelBuilder modelBuilder)
    {
        foreach (var entity in modelBuilder.Model.GetEntityTypes())
        {
            foreach (var property in entity.GetProperties())
            {
                property.SetColumnName(ToSnakeCase(property.Name));
            }
        }
    }

    internal static string ToSnakeCase(string name)
    {
        var builder = new StringBuilder(name.Length + 8);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c) && i > 0)
            {
                builder.Append('_');
            }

            builder.Append(char.ToLowerInvariant(c));
        }

        return builder.ToString();
    }

    internal sealed class UtcDateTimeConverter() : ValueConverter<DateTime, DateTime>(
        v => v.Kind == DateTimeKind.Utc ? v : v.ToUniversalTime(),
        v => DateTime.SpecifyKind(v, DateTimeKind.Utc));
}
