namespace OperationsHub.Core.Domain;

/// <summary>What kind of Entra group a cached group is, as Microsoft Graph describes it.</summary>
public enum DirectoryGroupKind
{
    /// <summary>Security-enabled (mail-enabled security groups included).</summary>
    Security = 0,

    /// <summary>A Microsoft 365 (unified) group.</summary>
    Microsoft365 = 1,

    /// <summary>A mail-enabled distribution list without security.</summary>
    Distribution = 2,
}

/// <summary>
/// One Entra group of a tenant, as the last <c>directory_sync</c> run saw it. Only directory sync runs write these
/// rows; pages and the restore mapping read them and never call Microsoft Graph.
/// </summary>
public sealed class CachedDirectoryGroup
{
    public long TenantId { get; set; }

    /// <summary>The group's Entra object id.</summary>
    public required string ObjectId { get; set; }

    public required string DisplayName { get; set; }

    public string? Description { get; set; }

    public DirectoryGroupKind Kind { get; set; }

    public string? Mail { get; set; }

    /// <summary>Null where the directory did not say (Graph's delta query does not return member counts).</summary>
    public int? MemberCount { get; set; }

    /// <summary>When a sync last saw the group in the directory.</summary>
    public DateTime LastSeenAt { get; set; }

    /// <summary>Set when the group was deleted in the directory (restorable there); the row stays, marked.</summary>
    public DateTime? DeletedAt { get; set; }
}

/// <summary>Where a tenant's directory sync stands: the delta link to resume from, and the last run that synced.</summary>
public sealed class DirectorySyncState
{
    public long TenantId { get; set; }

    /// <summary>Graph's <c>@odata.deltaLink</c> from the last complete sync; null before the first.</summary>
    public string? DeltaLink { get; set; }

    public long? LastRunId { get; set; }

    public DateTime? LastSyncedAt { get; set; }

    public DateTime? LastFullSyncAt { get; set; }

    public int LastAdded { get; set; }

    public int LastUpdated { get; set; }

    public int LastRemoved { get; set; }
}

/// <summary>What a backup run took: the tenant's policies and the groups each was assigned to.</summary>
public sealed class PolicyBackup
{
    public long Id { get; set; }

    public long TenantId { get; set; }

    /// <summary>The backup run that took it.</summary>
    public long RunId { get; set; }

    public DateTime TakenAt { get; set; }

    public int PolicyCount { get; set; }

    public List<BackupAssignment> Assignments { get; set; } = [];
}

/// <summary>One policy's assignment to a group of the source directory, as backed up.</summary>
public sealed class BackupAssignment
{
    public long Id { get; set; }

    public long BackupId { get; set; }

    public required string PolicyId { get; set; }

    public required string PolicyName { get; set; }

    public required string SourceGroupId { get; set; }

    public required string SourceGroupName { get; set; }
}

/// <summary>"Members of Entra group X have role R in this tenant."</summary>
public sealed class GroupRoleBinding
{
    public long TenantId { get; set; }

    public required string GroupObjectId { get; set; }

    /// <summary>The group's name when it was bound (from Graph, the cache, or as typed); shown beside the id.</summary>
    public required string GroupDisplayName { get; set; }

    public TenantRole Role { get; set; }

    public DateTime CreatedAt { get; set; }

    public required string CreatedBy { get; set; }
}
