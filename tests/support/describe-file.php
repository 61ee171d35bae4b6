<?php

declare(strict_types=1);

// Prints, as JSON, the API surface (ApiSurface) that the PHP file given as the
// first argument declares. Run without the extension (php -n): the stub file
// declares the same classes the extension does.

require __DIR__ . '/autoload.php';

use MqttBroadcast\Tests\Support\ApiSurface;

if (extension_loaded('mqtt_broadcast')) {
    fwrite(STDERR, "mqtt_broadcast is loaded: run this script with php -n, so that the file's classes can be declared\n");
    exit(2);
}
$file = $argv[1] ?? '';
if (!is_file($file)) {
    fwrite(STDERR, "usage: php -n describe-file.php FILE\n");
    exit(2);
}
echo json_encode(ApiSurface::ofFile($file), JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR), "\n";
