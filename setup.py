"""Install the artbot_bridge ament_python package."""

from glob import glob

from setuptools import find_packages, setup

package_name = 'artbot_bridge'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    package_data={'artbot_bridge.devhub': ['static/*']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', glob('launch/*.launch.py')),
        ('share/' + package_name + '/config', glob('config/*.yaml')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='artbot_bridge developers',
    maintainer_email='dev@artbot-bridge.invalid',
    description='Bridge between a ROS 2 robot and the Artbot Control Hub.',
    license='Apache-2.0',
    # colcon (colcon-core 0.7 and later) runs the tests with pytest when the 'test' extra
    # lists it; tests_require went with setuptools' test command (79 calls it unknown).
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'bridge = artbot_bridge.main:main',
            'devhub = artbot_bridge.devhub.__main__:main',
            'demo_robot = artbot_bridge.demo_robot:main',
        ],
    },
)
