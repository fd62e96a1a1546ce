using OperationsHub.Core.Domain;

namespace OperationsHub.Core.ExternalDirectory;

/// <summary>
/// A directory group as the identity provider describes it. In a delta page after the first sync, a property the page
/// leaves out (null here) did not change.
/// </summary>
public sealed record DirectoryGroup(
    string Id,
    string? DisplayName,
    string? Description = null,
    DirectoryGroupKind? Kind = null,
    string? Mail = null,
    int? MemberCount = null);

/// <summary>Why a delta page lists a group as removed (Graph's <c>@removed.reason</c>).</summary>
public enum DirectoryRemoval
{
    /// <summary>Deleted but restorable (in the directory's recycle bin): the cache keeps the row, marked deleted.</summary>
    Changed,

    /// <summary>Deleted for good: the cache drops the row.</summary>
    Deleted,
}

public sealed record DirectoryRemovedGroup(string Id, DirectoryRemoval Reason);

/// <summary>
/// One page of a delta query: groups new or changed since the link it was asked with, groups removed, and either the
/// link to the next page or (on the last page) the delta link to resume from next time.
/// </summary>
public sealed record DirectoryDeltaPage(
    IReadOnlyList<DirectoryGroup> Groups,
    IReadOnlyList<DirectoryRemovedGroup> Removed,
    string? NextLink,
    string? DeltaLink);

/// <summary>Which tenant's directory a call is about: the hub tenant and its Entra directory id (null in the demo).</summary>
public sealed record DirectoryScope(long TenantId, string? DirectoryTenantId);

/// <summary>The directory no longer knows the delta link (Graph: 400 <c>syncStateNotFound</c>, or 410): sync again in full.</summary>
public sealed class DirectoryDeltaExpiredException(string message) : Exception(message);

/// <summary>
/// The external directory (Microsoft Graph in production) as directory sync reads it, with an app-only identity.
/// Only the <c>directory_sync</c> handler calls it, inside runs; the hub's pages never do, so they render from the
/// database alone and stay fast and available when the directory is not.
/// </summary>
public interface IDirectoryClient
{
    /// <summary>
    /// A page of groups. <paramref name="link"/> null starts a full sync; otherwise it is a next link or a delta link
    /// this client returned before. Throws <see cref="DirectoryDeltaExpiredException"/> when the link is gone.
    /// </summary>
    Task<DirectoryDeltaPage> GetGroupsDeltaAsync(DirectoryScope scope, string? link, CancellationToken cancellationToken);
}

/// <summary>
/// The demo's built-in directory: a fixed set of groups per tenant served in pages, no network, so the README's run
/// command works offline and the cache fills on the first sync. Two groups share the name "Sales", as real
/// directories do, so the restore mapping shows that an ambiguous name is never suggested.
/// </summary>
public sealed class DemoDirectoryClient : IDirectoryClient
{
    public const int PageSize = 25;
    private const string Scheme = "demo:";

    private static readonly (string Name, DirectoryGroupKind Kind, string Description)[] Names =
    [
        ("All Staff", DirectoryGroupKind.Microsoft365, "Everyone in the organisation."),
        ("Finance", DirectoryGroupKind.Security, "Finance department users."),
        ("Sales", DirectoryGroupKind.Microsoft365, "Sales team (EMEA)."),
        ("Sales", DirectoryGroupKind.Security, "Sales team (Americas)."),
        ("Intune Pilot Devices", DirectoryGroupKind.Security, "Devices in the Intune pilot ring."),
        ("Executives", DirectoryGroupKind.Security, "Leadership team."),
        ("Help Desk", DirectoryGroupKind.Security, "First-line support staff."),
        ("IT Admins", DirectoryGroupKind.Security, "Administrators of the tenant."),
        ("Marketing", DirectoryGroupKind.Microsoft365, "Marketing team."),
        ("Newsletter", DirectoryGroupKind.Distribution, "Company newsletter list."),
        ("Windows Devices", DirectoryGroupKind.Security, "Every managed Windows device."),
        ("iOS Devices", DirectoryGroupKind.Security, "Every managed iPhone and iPad."),
    ];

    /// <summary>The demo groups of a tenant: the named ones above, then numbered project groups up to 60.</summary>
    public static IReadOnlyList<DirectoryGroup> GroupsOf(long tenantId)
    {
        var groups = new List<DirectoryGroup>(60);
        for (var i = 0; i < 60; i++)
        {
            var (name, kind, description) = i < Names.Length
                ? Names[i]
                : ($"Project {i - Names.Length + 1:D2}", DirectoryGroupKind.Microsoft365, "A project team.");
            var slug = new string(name.ToLowerInvariant().Where(char.IsAsciiLetterOrDigit).ToArray());
            groups.Add(new DirectoryGroup(
                DemoGroupId(tenantId, i),
                name,
                description,
                kind,
                kind == DirectoryGroupKind.Security ? null : $"{slug}{i}@demo.example",
                (i * 7 % 50) + 1));
        }

        return groups;
    }

    /// <summary>A stable GUID-shaped object id per tenant and index, as Entra's are.</summary>
    public static string DemoGroupId(long tenantId, int index) =>
        new Guid((int)tenantId, 0x0d1e, 0x2000, 0, 0, 0, 0, 0, 0, (byte)(index >> 8), (byte)index).ToString();

    public Task<DirectoryDeltaPage> GetGroupsDeltaAsync(DirectoryScope scope, string? link, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var groups = GroupsOf(scope.TenantId);
        if (link is null || link.StartsWith(Scheme + "next:", StringComparison.Ordinal))
        {
            var offset = link is null ? 0 : int.Parse(link[(Scheme.Length + 5)..], System.Globalization.CultureInfo.InvariantCulture);
            var page = groups.Skip(offset).Take(PageSize).ToList();
            var next = offset + PageSize;
            return Task.FromResult(next < groups.Count
                ? new DirectoryDeltaPage(page, [], $"{Scheme}next:{next}", null)
                : new DirectoryDeltaPage(page, [], null, $"{Scheme}delta"));
        }

        if (link == Scheme + "delta")
        {
            // Nothing changed in the built-in directory since the last sync.
            return Task.FromResult(new DirectoryDeltaPage([], [], null, link));
        }

        throw new DirectoryDeltaExpiredException("The built-in directory does not know this delta link.");
    }
}
