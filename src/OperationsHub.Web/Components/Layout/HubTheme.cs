using MudBlazor;

namespace OperationsHub.Web.Components.Layout;

/// <summary>The brand palette. Colours live here, not in CSS, so light and dark stay consistent.</summary>
internal static class HubTheme
{
    public static MudTheme Create() => new()
    {
        PaletteLight = new PaletteLight
        {
            Primary = "#1f5fbf",
            Secondary = "#6b4fbb",
            AppbarBackground = "#12305c",
            AppbarText = "#ffffff",
            Background = "#f6f8fb",
            // Darker than MudBlazor's default so labels and captions keep 4.5:1 on the tinted background.
            TextSecondary = "rgba(0,0,0,0.7)",
            DrawerBackground = "#ffffff",
            Success = "#1b7f3b",
            Warning = "#a85d00",
            Error = "#c62828",
            Info = "#1565c0",
        },
        PaletteDark = new PaletteDark
        {
            Primary = "#7fb0ff",
            Secondary = "#b39dff",
            AppbarBackground = "#0d1b2e",
            Background = "#0f1720",
            Surface = "#16212d",
            DrawerBackground = "#121c27",
            Success = "#5fd38b",
            Warning = "#ffb74d",
            Error = "#ff8a80",
            Info = "#82b1ff",
        },
        Typography = new Typography
        {
            // System fonts: nothing is fetched from the internet.
            Default = new DefaultTypography
            {
                FontFamily = ["-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"],
            },
        },
        LayoutProperties = new LayoutProperties { DrawerWidthLeft = "232px" },
    };
}
