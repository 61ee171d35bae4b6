<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/** Temporary directories of the test support: brokers, pools, certificates, apps. */
final class TempDir
{
    /** Removes $dir and everything below it; a missing $dir is fine. */
    public static function remove(string $dir): void
    {
        if (!is_dir($dir)) {
            return;
        }
        foreach (new \RecursiveIteratorIterator(
            new \RecursiveDirectoryIterator($dir, \FilesystemIterator::SKIP_DOTS),
            \RecursiveIteratorIterator::CHILD_FIRST
        ) as $entry) {
            $entry->isDir() ? rmdir($entry->getPathname()) : unlink($entry->getPathname());
        }
        rmdir($dir);
    }
}
