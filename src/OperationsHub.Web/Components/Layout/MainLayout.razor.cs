using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Routing;
using Microsoft.AspNetCore.Components.Web;
using MudBlazor;
using OperationsHub.Core.Domain;
using OperationsHub.Web.Features.Auth;
using OperationsHub.Web.Features.Preferences;
using OperationsHub.Web.Features.Tenants;

namespace OperationsHub.Web.Components.Layout;

public sealed partial class MainLayout : IDisposable
{
    private ErrorBoundary? _errorBoundary;
    // The menu button flips both: wide screens show the menu unless it was hidden, narrow ones hide it unless it was
    // opened (and a choice closes it there). Each width sees its own state; CSS applies the one that fits.
    private bool _navHiddenWide;
    private bool _navOpenNarrow;
    private ThemePreference _preference;
    private IReadOnlyList<UserTenant> _tenants = [];
    private string? _currentTenant;
    private string _displayName = "";
    private long? _userId;
    private SessionState? _signedOut;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Inject]
    private TenantAccess Access { get; set; } = default!;

    [Inject]
    private UserPreferences Preferences { get; set; } = default!;

    [Inject]
    private RevalidatingSessionStateProvider Sessions { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState> AuthenticationState { get; set; } = default!;

    public void Dispose()
    {
        Navigation.LocationChanged -= OnLocationChanged;
        Sessions.AuthenticationStateChanged -= OnAuthenticationStateChanged;
    }

    protected override async Task OnInitializedAsync()
    {
        var user = (await AuthenticationState).User;
        _userId = user.GetHubUserId();
        _displayName = user.GetDisplayName();
        _tenants = await Access.GetUserTenantsAsync(user, CancellationToken.None);
        if (_userId is { } id)
        {
            _preference = await Preferences.GetThemeAsync(id, CancellationToken.None);
        }

        _currentTenant = OwnTenantFromUri(Navigation.Uri);
        Navigation.LocationChanged += OnLocationChanged;
        Sessions.AuthenticationStateChanged += OnAuthenticationStateChanged;
    }

    /// <summary>
    /// The session ended while the page was open: the page, the bell and the menus go (their components stop
    /// watching the user's runs), toasts are cleared, and the notice says why and leads back to sign-in.
    /// </summary>
    private void OnAuthenticationStateChanged(Task<AuthenticationState> state) => _ = InvokeAsync(async () =>
    {
        if ((await state).User.Identity?.IsAuthenticated == true || Sessions.Ended is not { } ended)
        {
            return;
        }

        _signedOut = ended;
        (_userId, _tenants, _displayName) = (null, [], "");
        Snackbar.Clear();
        StateHasChanged();
    });

    private async Task SetThemeAsync(ThemePreference preference)
    {
        if (!await Sessions.EnsureLiveAsync(CancellationToken.None))
        {
            return;
        }

        _preference = preference;
        if (_userId is { } id)
        {
            await Preferences.SetThemeAsync(id, preference, CancellationToken.None);
        }
    }

    private void ToggleDrawer() => (_navHiddenWide, _navOpenNarrow) = (!_navHiddenWide, !_navOpenNarrow);

    private void CloseNarrowNav() => _navOpenNarrow = false;

    private void OnNavKeyDown(KeyboardEventArgs e)
    {
        if (e.Key == "Escape")
        {
            _navOpenNarrow = false;
        }
    }

    private string LayoutClass => _navHiddenWide
        ? "mud-layout mud-drawer-close-responsive-md-left mud-drawer-left-clipped-always"
        : "mud-layout mud-drawer-open-responsive-md-left mud-drawer-left-clipped-always";

    private string DrawerClass =>
        "mud-drawer mud-drawer-fixed mud-drawer-pos-left mud-drawer-md mud-drawer-clipped-always mud-elevation-0 mud-drawer-responsive hub-nav"
        + (_navHiddenWide ? " mud-drawer--closed" : " mud-drawer--open")
        + (_navOpenNarrow ? " hub-nav-narrow-open" : "");

    private void Recover() => _errorBoundary?.Recover();

    private void OnLocationChanged(object? sender, LocationChangedEventArgs e)
    {
        var tenant = OwnTenantFromUri(e.Location);
        if (tenant != _currentTenant || _navOpenNarrow)
        {
            // A choice in the menu laid over a narrow screen closes it.
            (_currentTenant, _navOpenNarrow) = (tenant, false);
            _ = InvokeAsync(StateHasChanged);
        }
    }

    /// <summary>The tenant of the address when the user belongs to it; the app bar and menu never point into others.</summary>
    private string? OwnTenantFromUri(string uri) =>
        TenantFromUri(uri) is { } tenant && _tenants.Any(t => t.ExternalId == tenant) ? tenant : null;

    /// <summary>The tenant external id of an <c>/admin/t/{tenant}/...</c> address, or null elsewhere.</summary>
    internal static string? TenantFromUri(string uri)
    {
        var path = new Uri(uri).AbsolutePath;
        const string prefix = "/admin/t/";
        if (!path.StartsWith(prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var rest = path[prefix.Length..];
        var end = rest.IndexOf('/', StringComparison.Ordinal);
        var segment = Uri.UnescapeDataString(end < 0 ? rest : rest[..end]);
        return segment.Length == 0 ? null : segment;
    }
}
