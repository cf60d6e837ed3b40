namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>The checkout the tests were built from: the folder holding <c>OrderCancel.sln</c>.</summary>
public static class RepositoryRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(folder.FullName, "OrderCancel.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException($"No OrderCancel.sln above {AppContext.BaseDirectory}.");
    }
}
