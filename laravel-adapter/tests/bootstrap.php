<?php

declare(strict_types=1);

require __DIR__ . '/autoload.php';

use MqttBroadcast\Tests\Support\PhpScript;

// Child PHP processes (the test application's artisan) load the same build.
putenv('MQTT_BROADCAST_EXT=' . PhpScript::extensionPath());

if (!extension_loaded('mqtt_broadcast')) {
    fwrite(STDERR, sprintf(
        "The mqtt_broadcast extension is not loaded. Run the suite with ./build.sh test, or:\n"
        . "  php -d extension=%s /usr/bin/phpunit -c laravel-adapter/tests/phpunit.xml\n",
        PhpScript::extensionPath()
    ));
    exit(1);
}
