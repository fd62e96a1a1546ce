using System.Globalization;
using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Operations;
using OperationsHub.Core.Runs;

namespace OperationsHub.Core.ExternalDirectory;

/// <summary>
/// The <c>directory_sync</c> handler: the only writer of <c>directory_groups</c>. Follows the directory's delta query
/// page by page from the stored delta link (or from scratch), applies each page in one transaction, starts over in
/// full when the directory has forgotten the link, and stores the new delta link only once the last page is applied,
/// so a sync that fails half-way resumes from the old link and re-applies what it had (every step is idempotent).
/// Each group change is an item: added, updated and removed groups succeed; a group seen unchanged is skipped.
/// </summary>
internal sealed class DirectorySyncHandler(IDirectoryClient directory, IDbContextFactory<HubDbContext> dbFactory, TimeProvider time)
    : IOperationHandler
{
    public async Task ExecuteAsync(IOperationContext context, CancellationToken cancellationToken)
    {
        DirectoryScope scope;
        string? link;
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            var directoryTenantId = await db.Tenants.Where(t => t.Id == context.TenantId).Select(t => t.DirectoryTenantId)
                .SingleAsync(cancellationToken);
            scope = new DirectoryScope(context.TenantId, directoryTenantId);
            link = await db.DirectorySyncStates.Where(s => s.TenantId == context.TenantId).Select(s => s.DeltaLink)
                .SingleOrDefaultAsync(cancellationToken);
        }

        var full = link is null;
        var restarted = false;
        var startedAt = time.GetUtcNow().UtcDateTime;
        var tally = new Tally();
        string? deltaLink;
        while (true)
        {
            DirectoryDeltaPage page;
            try
            {
                page = await directory.GetGroupsDeltaAsync(scope, link, cancellationToken);
            }
            catch (DirectoryDeltaExpiredException) when (!restarted && link is not null)
            {
                context.Log(RunLogLevel.Warning, "The directory no longer knows the stored delta link: reading every group again.");
                // The directory forgot where we were (or the link aged out): read everything again. Groups not seen
                // in the full read are then marked deleted, so nothing removed meanwhile lingers in the cache.
                restarted = full = true;
                link = null;
                continue;
            }

            await ApplyAsync(context, page, tally, cancellationToken);
            if (page.NextLink is { } next)
            {
                link = next;
                continue;
            }

            deltaLink = page.DeltaLink ?? throw new OperationFailedException(
                "directory_protocol", "The directory's last page carried neither a next link nor a delta link.");
            break;
        }

        await FinishAsync(context, full, startedAt, deltaLink, tally, cancellationToken);
        var how = restarted ? "full sync (the stored delta link had expired)" : full ? "full sync" : "incremental sync";
        context.Log(RunLogLevel.Information, string.Create(CultureInfo.InvariantCulture,
            $"Directory {how} done: {tally.Added} added, {tally.Updated} updated, {tally.Removed} removed."));
        await RunNotes.AddAsync(dbFactory, time, context.RunId, string.Create(CultureInfo.InvariantCulture,
            $"Directory {how}: {tally.Added} added, {tally.Updated} updated, {tally.Removed} removed, {tally.Unchanged} unchanged."),
            cancellationToken);
    }

    private async Task ApplyAsync(IOperationContext context, DirectoryDeltaPage page, Tally tally, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var ids = page.Groups.Select(g => g.Id).Concat(page.Removed.Select(r => r.Id)).Distinct().ToList();
        var existing = await db.DirectoryGroups.Where(g => g.TenantId == context.TenantId && ids.Contains(g.ObjectId))
            .ToDictionaryAsync(g => g.ObjectId, StringComparer.Ordinal, ct);
        var outcomes = new List<bool>(ids.Count);
        foreach (var group in page.Groups)
        {
            if (!existing.TryGetValue(group.Id, out var row))
            {
                row = new CachedDirectoryGroup { TenantId = context.TenantId, ObjectId = Clip(group.Id, 64)!, DisplayName = "" };
                db.DirectoryGroups.Add(row);
                existing[group.Id] = row;
                Copy(group, row);
                row.DisplayName = row.DisplayName.Length == 0 ? "(no name)" : row.DisplayName;
                tally.Added++;
                outcomes.Add(true);
            }
            else
            {
                var wasDeleted = row.DeletedAt is not null;
                var changed = Copy(group, row) || wasDeleted;
                row.DeletedAt = null;
                if (wasDeleted)
                {
                    tally.Added++;
                }
                else if (changed)
                {
                    tally.Updated++;
                }
                else
                {
                    tally.Unchanged++;
                }

                outcomes.Add(changed);
            }

            row.LastSeenAt = now;
        }

        foreach (var removed in page.Removed)
        {
            if (!existing.TryGetValue(removed.Id, out var row))
            {
                tally.Unchanged++;
                outcomes.Add(false);
                continue;
            }

            if (removed.Reason == DirectoryRemoval.Deleted)
            {
                db.DirectoryGroups.Remove(row);
                existing.Remove(removed.Id);
            }
            else if (row.DeletedAt is null)
            {
                row.DeletedAt = now;
            }
            else
            {
                tally.Unchanged++;
                outcomes.Add(false);
                continue;
            }

            tally.Removed++;
            outcomes.Add(true);
        }

        await db.SaveChangesAsync(ct);
        // Counted only once the page is stored, so the run's counts never run ahead of the cache.
        foreach (var changed in outcomes)
        {
            if (changed)
            {
                context.ItemSucceeded();
            }
            else
            {
                context.ItemSkipped();
            }
        }
    }

    private async Task FinishAsync(IOperationContext context, bool full, DateTime startedAt, string deltaLink, Tally tally, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (full)
        {
            // A full read lists every group there is: any live row it did not touch is gone from the directory.
            var gone = await db.DirectoryGroups
                .Where(g => g.TenantId == context.TenantId && g.DeletedAt == null && g.LastSeenAt < startedAt)
                .ToListAsync(ct);
            foreach (var row in gone)
            {
                row.DeletedAt = now;
                tally.Removed++;
                context.ItemSucceeded();
            }
        }

        var state = await db.DirectorySyncStates.SingleOrDefaultAsync(s => s.TenantId == context.TenantId, ct);
        if (state is null)
        {
            state = new DirectorySyncState { TenantId = context.TenantId };
            db.DirectorySyncStates.Add(state);
        }

        state.DeltaLink = deltaLink.Length <= 4096 ? deltaLink : null;
        state.LastRunId = context.RunId;
        state.LastSyncedAt = now;
        if (full)
        {
            state.LastFullSyncAt = now;
        }

        (state.LastAdded, state.LastUpdated, state.LastRemoved) = (tally.Added, tally.Updated, tally.Removed);
        await db.SaveChangesAsync(ct);
    }

    /// <summary>Copies what the page says onto the row; true when anything the cache shows changed.</summary>
    private static bool Copy(DirectoryGroup group, CachedDirectoryGroup row)
    {
        var changed = false;
        Set(Clip(group.DisplayName, 256), row.DisplayName, v => row.DisplayName = v!);
        Set(Clip(group.Description, 1024), row.Description, v => row.Description = v);
        Set(Clip(group.Mail, 320), row.Mail, v => row.Mail = v);
        if (group.Kind is { } kind && kind != row.Kind)
        {
            row.Kind = kind;
            changed = true;
        }

        if (group.MemberCount is { } count && count != row.MemberCount)
        {
            row.MemberCount = count;
            changed = true;
        }

        return changed;

        void Set(string? value, string? current, Action<string?> assign)
        {
            if (value is not null && !string.Equals(value, current, StringComparison.Ordinal))
            {
                assign(value);
                changed = true;
            }
        }
    }

    private static string? Clip(string? value, int max) => value is null || value.Length <= max ? value : value[..max];

    private sealed class Tally
    {
        public int Added { get; set; }

        public int Updated { get; set; }

        public int Removed { get; set; }

        public int Unchanged { get; set; }
    }
}

/// <summary>Timeline notes a handler adds to its own run ("12 added, 3 updated").</summary>
public static class RunNotes
{
    public const int MaxLength = 1000;

    public static async Task AddAsync(IDbContextFactory<HubDbContext> dbFactory, TimeProvider time, long runId, string message, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        db.RunEvents.Add(new OperationRunEvent
        {
            RunId = runId,
            Kind = RunEventKinds.Note,
            Message = Sanitization.Sanitizer.SanitizeText(message, MaxLength),
            At = time.GetUtcNow().UtcDateTime,
        });
        await db.SaveChangesAsync(ct);
    }
}
