<?php

declare(strict_types=1);

require __DIR__ . '/autoload.php';

use MqttBroadcast\Tests\Support\PhpScript;

// Child PHP processes (the test application's artisan) load the same build.
putenv('MQTT_BROADCAST_EXT=' . PhpScript::extensionPath());

// The tests of group "without-extension" also run in a PHP without the
// extension (see WithoutExtensionTest), which asks for it with this variable.
if (getenv('MQTT_BROADCAST_WITHOUT_EXTENSION') === '1') {
    if (extension_loaded('mqtt_broadcast')) {
        fwrite(STDERR, "MQTT_BROADCAST_WITHOUT_EXTENSION=1, but the mqtt_broadcast extension is loaded.\n");
        exit(1);
    }
} elseif (!extension_loaded('mqtt_broadcast')) {
    fwrite(STDERR, sprintf(
        "The mqtt_broadcast extension is not loaded. Run the suite with ./build.sh test, or:\n"
        . "  php -d extension=%s /usr/bin/phpunit -c laravel-adapter/tests/phpunit.xml\n",
        PhpScript::extensionPath()
    ));
    exit(1);
}
