<?php

declare(strict_types=1);

require dirname(__DIR__) . '/support/autoload.php';

use MqttBroadcast\Tests\Support\PhpScript;

// Child PHP processes (PhpScript) load the same build.
putenv('MQTT_BROADCAST_EXT=' . PhpScript::extensionPath());

if (!extension_loaded('mqtt_broadcast')) {
    $similar = preg_grep('/mqtt/i', get_loaded_extensions());
    fwrite(STDERR, sprintf(
        "The mqtt_broadcast extension is not loaded%s. Run the suite with ./build.sh test, or:\n"
        . "  php -d extension=%s /usr/bin/phpunit -c tests/php/phpunit.xml\n",
        $similar ? ' (loaded extensions named like it: ' . implode(', ', $similar) . ')' : '',
        PhpScript::extensionPath()
    ));
    exit(1);
}
