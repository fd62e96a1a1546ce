using System.Globalization;
using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.ExternalDirectory;
using OperationsHub.Core.Operations;
using OperationsHub.Core.Runs;

namespace OperationsHub.Core.Samples;

/// <summary>The inputs a restore run carries: the backup, the group mapping, and what to do with unmapped groups.</summary>
public static class RestoreInputs
{
    public const string BackupId = "backup_id";

    /// <summary>One input per mapped source group: <c>map.{source group id}</c> = target group id (from the cache).</summary>
    public const string MapPrefix = "map.";

    /// <summary><see cref="Block"/> (the default) or <see cref="Skip"/>.</summary>
    public const string Unmapped = "unmapped";

    /// <summary>Refuse to start while a source group has no target: nothing is restored half-assigned by accident.</summary>
    public const string Block = "block";

    /// <summary>Start anyway; each assignment of an unmapped group is skipped with a warning on the run.</summary>
    public const string Skip = "skip";

    /// <summary>
    /// The inputs that carry a mapping: one per source group with a target (by source group id; unmapped ones are
    /// null or absent). <see cref="MappingOf"/> reads them back.
    /// </summary>
    public static Dictionary<string, string> MapInputs(IEnumerable<KeyValuePair<string, CachedGroupOption?>> targetsBySource) =>
        targetsBySource.Where(p => p.Value is not null).ToDictionary(p => MapPrefix + p.Key, p => p.Value!.Id, StringComparer.Ordinal);

    public static IReadOnlyDictionary<string, string> MappingOf(IReadOnlyDictionary<string, string> inputs) =>
        inputs.Where(p => p.Key.StartsWith(MapPrefix, StringComparison.Ordinal) && p.Key.Length > MapPrefix.Length && p.Value.Length > 0)
            .ToDictionary(p => p.Key[MapPrefix.Length..], p => p.Value, StringComparer.Ordinal);

    public static bool SkipsUnmapped(IReadOnlyDictionary<string, string> inputs) =>
        inputs.TryGetValue(Unmapped, out var value) && string.Equals(value, Skip, StringComparison.Ordinal);
}

/// <summary>The one text search over the directory cache (the directory page, and every group picker).</summary>
public static class CachedGroupSearch
{
    public const int MaxTextLength = 100;

    /// <summary>
    /// Groups whose name or mail contains the text, in any case (trimmed, at most <see cref="MaxTextLength"/>
    /// characters), or whose object id is the text when <paramref name="matchObjectId"/>. Contains is a plain
    /// substring test on both providers (instr / strpos): no character of the text is a wildcard.
    /// </summary>
    public static IQueryable<CachedDirectoryGroup> Matching(this IQueryable<CachedDirectoryGroup> query, string? text, bool matchObjectId)
    {
        var needle = text?.Trim();
        if (string.IsNullOrEmpty(needle))
        {
            return query;
        }

        needle = (needle.Length > MaxTextLength ? needle[..MaxTextLength] : needle).ToLowerInvariant();
        return query.Where(g => g.DisplayName.ToLower().Contains(needle)
            || (g.Mail != null && g.Mail.ToLower().Contains(needle))
            || (matchObjectId && g.ObjectId == needle));
    }
}

/// <summary>A source group a backup's assignments refer to, with how many of them do.</summary>
public sealed record BackupSourceGroup(string Id, string DisplayName, int Assignments);

/// <summary>A group of the directory cache, as the restore mapping and the access page offer it.</summary>
public sealed record CachedGroupOption(string Id, string DisplayName, DirectoryGroupKind Kind, string? Mail);

/// <summary>A backup a restore can start from.</summary>
public sealed record BackupOption(long Id, long RunId, DateTime TakenAt, int PolicyCount, int AssignmentCount);

/// <summary>
/// The reads behind a restore: the tenant's backups, the source groups of one, and the cache's groups to map them to.
/// Database only: none of this calls the directory.
/// </summary>
public sealed class RestorePlanner(IDbContextFactory<HubDbContext> dbFactory)
{
    public async Task<IReadOnlyList<BackupOption>> ListBackupsAsync(long tenantId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Backups.AsNoTracking().Where(b => b.TenantId == tenantId)
            .OrderByDescending(b => b.TakenAt).ThenByDescending(b => b.Id).Take(100)
            .Select(b => new BackupOption(b.Id, b.RunId, b.TakenAt, b.PolicyCount, b.Assignments.Count))
            .ToListAsync(ct);
    }

    /// <summary>The backup's tenant, or null when there is no such backup.</summary>
    public async Task<long?> TenantOfBackupAsync(long backupId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Backups.AsNoTracking().Where(b => b.Id == backupId).Select(b => (long?)b.TenantId).SingleOrDefaultAsync(ct);
    }

    public async Task<IReadOnlyList<BackupSourceGroup>> SourceGroupsAsync(long backupId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var rows = await db.BackupAssignments.AsNoTracking().Where(a => a.BackupId == backupId)
            .Select(a => new { a.SourceGroupId, a.SourceGroupName }).ToListAsync(ct);
        return rows.GroupBy(r => r.SourceGroupId, StringComparer.Ordinal)
            .Select(g => new BackupSourceGroup(g.Key, g.First().SourceGroupName, g.Count()))
            .OrderBy(g => g.DisplayName, StringComparer.CurrentCultureIgnoreCase).ToList();
    }

    /// <summary>The live cache groups whose display name equals each name exactly (ordinal), by name.</summary>
    public async Task<IReadOnlyDictionary<string, IReadOnlyList<CachedGroupOption>>> MatchByNameAsync(
        long tenantId, IEnumerable<string> names, CancellationToken ct)
    {
        var wanted = names.Distinct(StringComparer.Ordinal).ToList();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var matches = await db.DirectoryGroups.AsNoTracking()
            .Where(g => g.TenantId == tenantId && g.DeletedAt == null && wanted.Contains(g.DisplayName))
            .OrderBy(g => g.ObjectId)
            .Select(g => new CachedGroupOption(g.ObjectId, g.DisplayName, g.Kind, g.Mail)).ToListAsync(ct);
        // The database may compare without case (SQLite's NOCASE, a PostgreSQL collation): exact means exact here.
        return wanted.ToDictionary(
            name => name,
            name => (IReadOnlyList<CachedGroupOption>)matches.Where(m => string.Equals(m.DisplayName, name, StringComparison.Ordinal)).ToList(),
            StringComparer.Ordinal);
    }

    /// <summary>
    /// The target suggested for a source group: the one live cache group whose display name equals its name exactly.
    /// A name two groups share is never suggested: a guess would assign a policy to the wrong people.
    /// </summary>
    public static CachedGroupOption? Suggest(IReadOnlyList<CachedGroupOption> matches) => matches.Count == 1 ? matches[0] : null;

    /// <summary>The suggested target of each source group that has one (see <see cref="Suggest"/>), by source group id.</summary>
    public static Dictionary<string, CachedGroupOption?> SuggestedTargets(
        IEnumerable<BackupSourceGroup> sources, IReadOnlyDictionary<string, IReadOnlyList<CachedGroupOption>> matches) =>
        sources.Select(s => (s.Id, Target: Suggest(matches.GetValueOrDefault(s.DisplayName) ?? [])))
            .Where(p => p.Target is not null)
            .ToDictionary(p => p.Id, p => p.Target, StringComparer.Ordinal);

    /// <summary>Live cache groups whose name or mail contains the text (any case), by name; the first <paramref name="limit"/>.</summary>
    public async Task<IReadOnlyList<CachedGroupOption>> SearchCacheAsync(long tenantId, string? text, int limit, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var query = db.DirectoryGroups.AsNoTracking().Where(g => g.TenantId == tenantId && g.DeletedAt == null).Matching(text, matchObjectId: false);
        return await query.OrderBy(g => g.DisplayName).ThenBy(g => g.ObjectId).Take(Math.Clamp(limit, 1, 200))
            .Select(g => new CachedGroupOption(g.ObjectId, g.DisplayName, g.Kind, g.Mail)).ToListAsync(ct);
    }

    /// <summary>The live cache groups of the tenant among <paramref name="ids"/>.</summary>
    public async Task<IReadOnlyDictionary<string, CachedGroupOption>> FindCachedAsync(long tenantId, IReadOnlyCollection<string> ids, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.DirectoryGroups.AsNoTracking()
            .Where(g => g.TenantId == tenantId && g.DeletedAt == null && ids.Contains(g.ObjectId))
            .Select(g => new CachedGroupOption(g.ObjectId, g.DisplayName, g.Kind, g.Mail))
            .ToDictionaryAsync(g => g.Id, StringComparer.Ordinal, ct);
    }
}

/// <summary>
/// A restore must name a backup of its own tenant, and map only groups that backup references to live groups of the
/// tenant's directory cache; with "block" (the default), every source group must be mapped.
/// </summary>
internal sealed class RestoreStartValidator(RestorePlanner planner) : IOperationStartValidator
{
    public string Type => SampleOperations.Restore;

    public async ValueTask<StartRejection?> ValidateAsync(StartRunRequest request, CancellationToken ct)
    {
        var inputs = request.IdentityInputs.Concat(request.Inputs).GroupBy(p => p.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Last().Value, StringComparer.Ordinal);
        if (!inputs.TryGetValue(RestoreInputs.BackupId, out var text)
            || !long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var backupId) || backupId <= 0)
        {
            return new(StartRejectionKind.Invalid, "Choose a backup: backup_id must be the number of one of this tenant's backups.", "identityInputs");
        }

        var tenantOfBackup = await planner.TenantOfBackupAsync(backupId, ct);
        if (tenantOfBackup is null)
        {
            return new(StartRejectionKind.Invalid, $"There is no backup #{backupId}.", "identityInputs");
        }

        if (tenantOfBackup != request.TenantId)
        {
            return new(StartRejectionKind.Forbidden, $"Backup #{backupId} belongs to another tenant: a restore can only use this tenant's backups.", "identityInputs");
        }

        if (inputs.TryGetValue(RestoreInputs.Unmapped, out var unmapped) && unmapped is not (RestoreInputs.Block or RestoreInputs.Skip))
        {
            return new(StartRejectionKind.Invalid, "unmapped must be \"block\" or \"skip\".");
        }

        var mapping = RestoreInputs.MappingOf(inputs);
        var sources = await planner.SourceGroupsAsync(backupId, ct);
        var sourceIds = sources.Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        if (mapping.Keys.FirstOrDefault(id => !sourceIds.Contains(id)) is { } stranger)
        {
            return new(StartRejectionKind.Invalid, $"Backup #{backupId} has no assignments to the source group {Sanitization.Sanitizer.SanitizeKey(stranger)}.");
        }

        var targets = await planner.FindCachedAsync(request.TenantId, mapping.Values.Distinct(StringComparer.Ordinal).ToList(), ct);
        if (mapping.FirstOrDefault(p => !targets.ContainsKey(p.Value)) is { Key: { } badSource } bad)
        {
            var name = sources.First(s => s.Id == badSource).DisplayName;
            return new(StartRejectionKind.Invalid,
                $"The target chosen for \"{name}\" is not a group in this tenant's directory cache (it may have been deleted since the last sync). Choose another.");
        }

        var missing = sources.Where(s => !mapping.ContainsKey(s.Id)).ToList();
        if (missing.Count > 0 && !RestoreInputs.SkipsUnmapped(inputs))
        {
            return new(StartRejectionKind.Invalid,
                $"{missing.Count} source group{(missing.Count == 1 ? " has" : "s have")} no target: {string.Join(", ", missing.Select(m => $"\"{m.DisplayName}\""))}. " +
                "Map each to a group, or choose to skip unmapped groups.");
        }

        return null;
    }
}

/// <summary>
/// Takes a point-in-time backup of the tenant's policies: reports progress over a configurable time, then records
/// what it took (sample policies and their assignments to groups of the source directory) as this run's backup.
/// </summary>
internal sealed class BackupHandler(IDbContextFactory<HubDbContext> dbFactory, TimeProvider time) : IOperationHandler
{
    /// <summary>The source directory's groups the sample policies are assigned to (as a real backup would record them).</summary>
    internal static readonly (string Id, string Name)[] SourceGroups =
    [
        ("5e1f0a10-0000-4000-8000-000000000001", "All Staff"),
        ("5e1f0a10-0000-4000-8000-000000000002", "Finance"),
        ("5e1f0a10-0000-4000-8000-000000000003", "Sales"),
        ("5e1f0a10-0000-4000-8000-000000000004", "Intune Pilot Devices"),
        ("5e1f0a10-0000-4000-8000-000000000005", "Legacy Kiosks"),
    ];

    internal static readonly (string Id, string Name, int[] Groups)[] Policies =
    [
        ("pol-001", "Windows Security Baseline", [0, 3]),
        ("pol-002", "BitLocker Encryption", [0]),
        ("pol-003", "Compliance - Windows 11", [0, 4]),
        ("pol-004", "Defender Antivirus", [1, 2]),
        ("pol-005", "iOS Restrictions", [2]),
        ("pol-006", "Finance App Protection", [1]),
    ];

    public async Task ExecuteAsync(IOperationContext context, CancellationToken cancellationToken)
    {
        var seconds = SampleOperations.IntInput(context, "duration_seconds", 8, 0, 3600);
        const int steps = 100;
        context.SetTotal(steps);
        context.Log(RunLogLevel.Information, $"Reading {Policies.Length} policies and their group assignments.");
        var step = TimeSpan.FromSeconds(seconds) / steps;
        for (var i = 1; i <= steps; i++)
        {
            if (step > TimeSpan.Zero)
            {
                await Task.Delay(step, time, cancellationToken);
            }

            context.ReportProcessed(i);
        }

        cancellationToken.ThrowIfCancellationRequested();
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        // A re-run after a worker died replaces what the dead attempt may have recorded: one backup per run.
        await db.Backups.Where(b => b.RunId == context.RunId).ExecuteDeleteAsync(cancellationToken);
        var backup = new PolicyBackup
        {
            TenantId = context.TenantId,
            RunId = context.RunId,
            TakenAt = time.GetUtcNow().UtcDateTime,
            PolicyCount = Policies.Length,
        };
        foreach (var (id, name, groups) in Policies)
        {
            foreach (var g in groups)
            {
                backup.Assignments.Add(new BackupAssignment
                {
                    PolicyId = id,
                    PolicyName = name,
                    SourceGroupId = SourceGroups[g].Id,
                    SourceGroupName = SourceGroups[g].Name,
                });
            }
        }

        db.Backups.Add(backup);
        await db.SaveChangesAsync(cancellationToken);
        context.Log(RunLogLevel.Information, string.Create(CultureInfo.InvariantCulture,
            $"Saved backup #{backup.Id} with {backup.Assignments.Count} assignments."));
        await RunNotes.AddAsync(dbFactory, time, context.RunId, string.Create(CultureInfo.InvariantCulture,
            $"Backup #{backup.Id} taken: {backup.PolicyCount} policies, {backup.Assignments.Count} assignments to {SourceGroups.Length} groups."),
            cancellationToken);
    }
}

/// <summary>
/// Restores a backup's policy assignments onto the groups the admin mapped them to. Each assignment is an item:
/// applied when its source group is mapped to a group still in the cache; skipped, with a warning, when the group was
/// left unmapped; failed when the mapped group has since disappeared from the directory. With <c>fail_at</c> the
/// (simulated) remote service rejects the N-th assignment with an error that carries a token and a signed URL, and
/// the run fails with a message the sanitizer has scrubbed.
/// </summary>
internal sealed class RestoreHandler(RestorePlanner planner, IDbContextFactory<HubDbContext> dbFactory, TimeProvider time) : IOperationHandler
{
    public async Task ExecuteAsync(IOperationContext context, CancellationToken cancellationToken)
    {
        var inputs = context.Context.Inputs;
        if (!inputs.TryGetValue(RestoreInputs.BackupId, out var text) || !long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var backupId))
        {
            throw new OperationFailedException("backup_not_found", "The run does not name a backup.");
        }

        List<BackupAssignment> assignments;
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            if (!await db.Backups.AnyAsync(b => b.Id == backupId && b.TenantId == context.TenantId, cancellationToken))
            {
                throw new OperationFailedException("backup_not_found", $"Backup #{backupId} of this tenant no longer exists.");
            }

            assignments = await db.BackupAssignments.AsNoTracking().Where(a => a.BackupId == backupId)
                .OrderBy(a => a.PolicyName).ThenBy(a => a.SourceGroupName).ToListAsync(cancellationToken);
        }

        var mapping = RestoreInputs.MappingOf(inputs);
        var targets = await planner.FindCachedAsync(context.TenantId, mapping.Values.Distinct(StringComparer.Ordinal).ToList(), cancellationToken);
        var failAt = SampleOperations.IntInput(context, "fail_at", 0, 0, 10_000);
        var delay = TimeSpan.FromMilliseconds(SampleOperations.IntInput(context, "item_delay_ms", 300, 0, 60_000));
        context.SetTotal(assignments.Count);
        context.Log(RunLogLevel.Information, string.Create(CultureInfo.InvariantCulture,
            $"Restoring {assignments.Count} assignments of backup #{backupId}; {mapping.Count} source groups are mapped."));
        int applied = 0, skipped = 0, failed = 0;
        // Warnings for skipped assignments are recorded once the work is done: a real failure met on the way is the
        // run's first failure, never hidden behind an expected skip.
        var skips = new List<string>();
        for (var i = 0; i < assignments.Count; i++)
        {
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, time, cancellationToken);
            }

            cancellationToken.ThrowIfCancellationRequested();
            var a = assignments[i];
            var item = $"{a.PolicyName} → {a.SourceGroupName}";
            if (i + 1 == failAt)
            {
                throw new OperationFailedException(
                    "restore_rejected",
                    $"Graph rejected PATCH https://graph.example/beta/deviceManagement/configurationPolicies/{a.PolicyId}/assign " +
                    "?sig=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg%3D%3D (403 Forbidden). Request had " +
                    "Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJkZW1vIn0.c2lnbmF0dXJl; client_secret=s3cr3t-Value");
            }

            if (!mapping.TryGetValue(a.SourceGroupId, out var targetId))
            {
                context.ItemSkipped();
                skips.Add($"Skipped \"{a.PolicyName}\": its source group \"{a.SourceGroupName}\" was left unmapped.");
                context.Log(RunLogLevel.Warning, skips[^1]);
                skipped++;
            }
            else if (!targets.ContainsKey(targetId))
            {
                context.ItemFailed("target_group_missing",
                    $"\"{a.PolicyName}\" was not assigned: the target group chosen for \"{a.SourceGroupName}\" is no longer in the directory cache.", item);
                context.Log(RunLogLevel.Error, $"{item}: the target group is no longer in the directory cache.");
                failed++;
            }
            else
            {
                context.ItemSucceeded();
                context.Log(RunLogLevel.Information, $"Assigned \"{a.PolicyName}\" to \"{targets[targetId].DisplayName}\".");
                applied++;
            }
        }

        foreach (var skip in skips)
        {
            context.RecordFailure("assignment_skipped", skip);
        }

        await RunNotes.AddAsync(dbFactory, time, context.RunId, string.Create(CultureInfo.InvariantCulture,
            $"Restore of backup #{backupId}: {applied} assignments applied, {skipped} skipped (unmapped group), {failed} failed."),
            cancellationToken);
    }
}
